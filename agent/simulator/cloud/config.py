"""Settings of the local Soracom cloud emulator, and the choices it makes where the real service is silent.

Everything the public documentation does not state outright (reply text on Harvest's TCP/UDP entry point,
the publish rate limit, how an ingest knows which device sent data) is a field here with a documented
default, so a test or a user can change the guess instead of the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

RESOURCE_TYPES = ("Subscriber", "LoraDevice", "Sim", "SigfoxDevice", "Device", "SoraCam")
"""The data source resource types Harvest Data knows (the API's ``resource_type`` enum)."""


@dataclass(frozen=True)
class ResourceRef:
    """A Harvest Data source, e.g. ``("Subscriber", imsi)``, ``("Device", device_id)``."""

    resource_type: str
    resource_id: str

    def __post_init__(self) -> None:
        if self.resource_type not in RESOURCE_TYPES:
            raise ValueError(
                f"resource_type {self.resource_type!r} is not one of {', '.join(RESOURCE_TYPES)}"
            )
        if not self.resource_id:
            raise ValueError("resource_id must not be empty")


@dataclass(frozen=True)
class RateLimit:
    """At most ``max_requests`` in any window of ``per_seconds`` (a sliding window per key)."""

    max_requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.max_requests < 1 or self.per_seconds <= 0:
            raise ValueError("a rate limit needs max_requests >= 1 and per_seconds > 0")


# Header a simulated SIM device sends to say who it is; the real network knows the SIM, the emulator cannot.
IMSI_HEADER = "X-Soracom-Imsi"
SIM_ID_HEADER = "X-Soracom-Sim-Id"


@dataclass
class CloudConfig:
    """What the emulator accepts and how it answers.

    Device identity on the ingest endpoints (the real service learns it from the SIM's network session):
    an ``X-Soracom-Imsi`` header makes the data a ``Subscriber`` entry of that IMSI, an ``X-Soracom-Sim-Id``
    header a ``Sim`` entry; without either, ``source_resources`` is looked up by ``"host:port"`` then by
    ``"host"`` of the sender; failing that, ``default_resource`` is used. TCP and UDP carry no headers,
    so only the last two apply there.
    """

    # Auth: only the AuthKey form of POST /v1/auth is accepted.
    auth_key_id: str = "keyId-emulator"
    auth_key: str = "secret-emulator"
    operator_id: str = "OP0000000001"
    token_timeout_seconds: int = 86400

    # Ingest identity (see the class docstring).
    default_resource: ResourceRef = field(
        default_factory=lambda: ResourceRef("Subscriber", "001010000000001")
    )
    source_resources: dict[str, ResourceRef] = field(default_factory=dict)

    # Harvest Data. False makes every ingest answer 400, as the real one does when the group has Harvest off.
    harvest_enabled: bool = True
    harvest_max_entry_bytes: int = 64 * 1024  # the real limit is unconfirmed (an old page said 1 KB)
    # Reply on Harvest's (and Unified Endpoint's) TCP/UDP entry points; unconfirmed for Harvest, so this
    # follows what Funnel documents for TCP: "<status>" on success, "<status> <message>" on failure.
    socket_reply_template: str = "{status} {message}"

    # Unified Endpoint: "auto" answers Harvest's own response when Harvest is the only destination,
    # "unified" always answers {"result","detail"} with 200 (all succeeded) or 207. Other destinations
    # (beam, funnel, funk) are not emulated: each name here is a destination that answers the given status.
    unified_format: Literal["auto", "unified"] = "auto"
    unified_extra_services: dict[str, int] = field(default_factory=dict)

    # POST /v1/devices/{id}/publish, per device; the real limit is not published.
    publish_rate_limit: RateLimit = field(default_factory=lambda: RateLimit(max_requests=10, per_seconds=1.0))

    # Harvest Files.
    files_max_bytes: int = 100 * 1024 * 1024  # the cellular limit; the service's hard limit is 5 GiB
    files_max_path_bytes: int = 1024
    files_max_path_depth: int = 16
    # Where a device's upload lands: the real group setting is a path template; placeholders are
    # {resource_type}, {resource_id} (of the sender, see above) and {path} (the URL path, leading "/").
    files_device_path_template: str = "{path}"
    # getFile answers 302 to a short-lived download link, as the real API redirects to its storage.
    download_link_ttl_seconds: float = 300.0
