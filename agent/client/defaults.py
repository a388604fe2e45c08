"""The object set an agent serves when no device profile is given.

0 Security and 1 Server point at the server given on the command line; 3 Device is filled from the
Linux system the agent runs on; 3303 Temperature is a simulated sensor whose value moves, so an
observation has something to report from the first minute.
"""

from __future__ import annotations

from ..core.model import ModelRegistry
from ..tree import ObjectInstance, ObjectTree, StoredValue
from ..tree.binding import ExecuteAction, ResourceBinding
from .retry import DEFAULT_RETRY_COUNT, DEFAULT_RETRY_TIMER, DEFAULT_SEQUENCE_DELAY, DEFAULT_SEQUENCE_RETRY_COUNT

DEFAULT_SHORT_SERVER_ID = 123


def security_instance(server_uri: str, *, iid: int = 0, short_server_id: int = DEFAULT_SHORT_SERVER_ID,
                      bootstrap: bool = False, mode: int = 3, identity: bytes = b"",
                      secret_key: bytes = b"") -> ObjectInstance:
    """A Security (0) instance; mode 3 is NoSec, 0 is PSK (identity and key given)."""
    resources: dict[int, ResourceBinding] = {
        0: StoredValue(server_uri),
        1: StoredValue(bootstrap),
        2: StoredValue(mode),
        3: StoredValue(identity),
        4: StoredValue(b""),
        5: StoredValue(secret_key),
    }
    if not bootstrap:
        resources[10] = StoredValue(short_server_id)
    return ObjectInstance(iid, resources)


def server_instance(lifetime: int, *, iid: int = 0, short_server_id: int = DEFAULT_SHORT_SERVER_ID,
                    binding: str = "U") -> ObjectInstance:
    """A Server (1) instance; the client replaces /1/x/8 with the real Registration Update Trigger."""
    return ObjectInstance(iid, {
        0: StoredValue(short_server_id, writable=False),
        1: StoredValue(lifetime),
        2: StoredValue(0),
        3: StoredValue(0),
        6: StoredValue(True),
        7: StoredValue(binding),
        8: ExecuteAction(lambda _args: None),
        # LwM2M 1.1 communication retry policy, at the specification's defaults (agent.client.retry).
        17: StoredValue(DEFAULT_RETRY_COUNT),
        18: StoredValue(int(DEFAULT_RETRY_TIMER)),
        19: StoredValue(int(DEFAULT_SEQUENCE_DELAY)),
        20: StoredValue(DEFAULT_SEQUENCE_RETRY_COUNT),
    })


def default_tree(server_uri: str, lifetime: int = 60, *, simulate: bool = False,
                 models: ModelRegistry | None = None, identity: bytes = b"", secret_key: bytes = b"",
                 short_server_id: int = DEFAULT_SHORT_SERVER_ID) -> ObjectTree:
    """Objects 0, 1, 3 and 3303 as described in the module docstring (0 with a PSK when one is given)."""
    from ..hardware.standard_objects import device_instance
    from ..models import shipped_models

    registry = models if models is not None else shipped_models()
    tree = ObjectTree(registry)
    tree.add_object(registry.object(0))
    tree.add_instance(0, security_instance(server_uri, mode=0 if secret_key else 3, identity=identity,
                                           secret_key=secret_key, short_server_id=short_server_id))
    tree.add_object(registry.object(1), factory=None, deletable=False)
    tree.add_instance(1, server_instance(lifetime, short_server_id=short_server_id))
    tree.add_object(registry.object(3), factory=None, deletable=False)
    tree.add_instance(3, device_instance(simulate=simulate))
    tree.add_object(registry.object(3303))
    tree.add_instance(3303, simulated_temperature_instance())
    return tree


def simulated_temperature_instance(iid: int = 0) -> ObjectInstance:
    """3303/x: a simulated temperature in °C with its measured min/max and their reset."""
    from ..hardware.simulated import RandomWalk

    value = RandomWalk(start=21.0, minimum=-10.0, maximum=45.0, step=0.3, interval=1.0)
    low = StoredValue(21.0, writable=False)
    high = StoredValue(21.0, writable=False)

    def track() -> None:
        current = value.value
        assert isinstance(current, float)
        if current < low.value:  # type: ignore[operator]
            low.set(current)
        if current > high.value:  # type: ignore[operator]
            high.set(current)

    value.add_listener(track)

    def reset(_args: str) -> None:
        low.set(value.value)
        high.set(value.value)

    return ObjectInstance(iid, {
        5700: value,
        5701: StoredValue("Cel", writable=False),
        5601: low,
        5602: high,
        5605: ExecuteAction(reset),
    })
