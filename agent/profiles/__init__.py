"""Device profiles: one TOML file describes a device, and the agent serves it with no Python written.

A profile names the LwM2M server, the object models to load, the object instances the device has,
and for each resource where its value comes from or where writes and executes go (a Linux fact,
a serial sensor, a GPS, a GPIO line, a file, a command, a constant, a simulated source). The
format is documented in ``agent/profiles/README.md``; ``device_profiles/simulator.toml`` uses
every kind of binding. In short::

    [server]
    uri = "coap://127.0.0.1:5683"
    endpoint = "pi-{serial}"          # {serial}, {mac}, {hostname}, {machine_id}; default: serial, or host+MAC

    [objects.3.0]
    system = "device"                 # a whole instance from the Linux system

    [objects.3303.0.resources]
    5700 = { kind = "serial_line", port = "/dev/ttyUSB0", pattern = "T=(-?[0-9.]+)" }
    5701 = "Cel"                      # a plain value: a constant (or a server-writable value on RW)

The flow: :func:`load_profile` (parse and check; no hardware), :func:`build_agent_tree` (the bindings,
not started), :func:`start_tree` / :func:`close_tree`, and :func:`describe_tree` for
``lwm2m-agent profile check``. ``Profile.server`` gives the client's settings.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .build import build_agent_tree
    from .describe import describe_tree
    from .endpoint import EndpointName, default_endpoint_name, resolve_endpoint_template
    from .errors import ProfileError
    from .extras import simulated_hardware
    from .kinds import KINDS
    from .lifecycle import close_tree, start_tree
    from .loader import load_profile, parse_profile, shipped_profile
    from .sigfox import SigfoxField, SigfoxProfile
    from .spec import BindingSpec, InstanceSpec, Profile, SerialPortSpec, ServerProfile, ShortcutSpec

# Each name is imported from its module when first asked for (PEP 562): an agent run without a profile
# needs the server settings and the endpoint name, not the loader and every hardware factory, and an
# idle agent's memory is a bar of its own (DESIGN: RSS <= 30 MB).
_WHERE = {
    "build_agent_tree": "build", "simulated_hardware": "extras", "describe_tree": "describe",
    "EndpointName": "endpoint", "default_endpoint_name": "endpoint", "resolve_endpoint_template": "endpoint",
    "ProfileError": "errors", "KINDS": "kinds", "close_tree": "lifecycle", "start_tree": "lifecycle",
    "load_profile": "loader", "parse_profile": "loader", "shipped_profile": "loader",
    "SigfoxField": "sigfox", "SigfoxProfile": "sigfox",
    "BindingSpec": "spec", "InstanceSpec": "spec", "Profile": "spec", "SerialPortSpec": "spec",
    "ServerProfile": "spec", "ShortcutSpec": "spec",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)


__all__ = [
    "KINDS",
    "BindingSpec",
    "EndpointName",
    "InstanceSpec",
    "Profile",
    "ProfileError",
    "SerialPortSpec",
    "ServerProfile",
    "ShortcutSpec",
    "SigfoxField",
    "SigfoxProfile",
    "build_agent_tree",
    "close_tree",
    "default_endpoint_name",
    "describe_tree",
    "load_profile",
    "parse_profile",
    "resolve_endpoint_template",
    "shipped_profile",
    "simulated_hardware",
    "start_tree",
]
