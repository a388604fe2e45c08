"""What the telemetry part is told to do: destinations, their transports, limits and endpoints.

These are plain values: the device profile loader (``agent.profiles``) builds them from the ``[telemetry.*]``
tables and checks every key there, so this package never imports the profile code. The defaults of
:class:`Endpoints` are the real Soracom hosts; the simulator replaces them with the emulator's ports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.path import Path


@dataclass(frozen=True)
class QueueLimits:
    """How much one destination may hold before the oldest readings are dropped (loudly)."""

    max_rows: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    max_age: float = 7 * 86400.0  # seconds

    def __post_init__(self) -> None:
        if self.max_rows < 1 or self.max_bytes < 1 or not self.max_age > 0:
            raise ValueError("queue limits must be positive")


JSON_TRANSPORTS = ("harvest_http", "harvest_tcp", "harvest_udp", "unified_http", "unified_tcp", "unified_udp",
                   "publish")
TRANSPORTS = (*JSON_TRANSPORTS, "files", "lwm2m_send")


@dataclass(frozen=True)
class Endpoints:
    """Where each kind of transport sends when its destination names no ``url`` of its own."""

    harvest_url: str = "http://harvest.soracom.io/"
    harvest_socket: tuple[str, int] = ("harvest.soracom.io", 8514)
    unified_url: str = "http://uni.soracom.io/"
    unified_socket: tuple[str, int] = ("uni.soracom.io", 23080)
    files_url: str = "http://harvest-files.soracom.io"
    api_url: str = "https://api.soracom.io/v1"


@dataclass(frozen=True)
class FileSource:
    """What a Harvest Files destination uploads: a file's content, or a command's output."""

    path: str | None = None
    command: tuple[str, ...] | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class DestinationSettings:
    """One ``[telemetry.NAME]`` table."""

    name: str
    transport: str
    resources: tuple[tuple[str, Path], ...] = ()  # (key in the body, resource path), in body order
    interval: float = 60.0
    limits: QueueLimits = field(default_factory=QueueLimits)
    url: str | None = None
    id_key: str = "id"
    time_key: str = "time"
    retry_initial: float = 1.0
    retry_max: float = 300.0
    device_id: str | None = None  # publish
    device_secret: str | None = field(default=None, repr=False)
    file_path: str = "/telemetry/{name}/{time}.csv"  # files: the path template
    file_source: FileSource | None = None  # files: None uploads a CSV of the resources' values
    content_type: str = "text/csv"


@dataclass(frozen=True)
class TelemetrySettings:
    """Every destination of a profile."""

    destinations: tuple[DestinationSettings, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.destinations)
