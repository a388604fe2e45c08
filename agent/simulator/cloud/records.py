"""What the cloud emulator keeps: Harvest data entries and files, Sigfox devices, API tokens.

Plain immutable records, shared by the store that persists them and the route modules that render them
in the API's JSON; no I/O here. The store raises the two exceptions below, and the routes answer 404 or
400 for them, so a rule of the service is written once, next to the data it guards.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class UnknownItem(LookupError):
    """The device, entry, file or tag asked for does not exist (the API answers 404)."""


class RuleViolation(ValueError):
    """The request breaks a rule of the service (the API answers 400)."""


@dataclass(frozen=True)
class DataEntry:
    """One Harvest Data entry; ``time`` (UNIX ms) is unique per resource, as in the real service."""

    resource_type: str
    resource_id: str
    time: int
    content_type: str
    content: str
    category: str | None = None


@dataclass(frozen=True)
class DataResource:
    """A data source that has sent data, with the JSON keys its entries used."""

    resource_type: str
    resource_id: str
    last_modified_time: int
    attribute_names: tuple[str, ...]


@dataclass(frozen=True)
class FileInfo:
    """A Harvest Files entry: a file (``/a/b.txt``) or a directory (``/a/``, trailing slash)."""

    scope: str
    file_path: str
    is_directory: bool
    content_type: str
    content_length: int
    etag: str
    created_time: int
    last_modified_time: int

    @property
    def directory(self) -> str:
        """The parent directory's path, with a trailing slash (``/`` for the root)."""
        trimmed = self.file_path.rstrip("/")
        return trimmed[: trimmed.rfind("/") + 1]

    @property
    def filename(self) -> str:
        return self.file_path.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class StoredFile:
    info: FileInfo
    content: bytes


@dataclass(frozen=True)
class SigfoxLastSeen:
    time: int  # UNIX ms
    rssi: int
    snr: int


@dataclass(frozen=True)
class SigfoxDeviceRecord:
    """A Sigfox device as the service knows it; ``pac`` is the registration secret, never rendered."""

    device_id: str
    status: str  # instock | ready | active | terminated
    pac: str | None
    last_modified_time: int  # UNIX ms
    tags: dict[str, str] = field(default_factory=dict)
    group_id: str | None = None
    termination_enabled: bool = False
    last_seen: SigfoxLastSeen | None = None
    seq_number: int = 0
    pending_downlink: bytes | None = None


@dataclass(frozen=True)
class ApiToken:
    api_key: str
    token: str
    operator_id: str
    expires_at: float  # UNIX seconds
