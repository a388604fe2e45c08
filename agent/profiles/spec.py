"""A loaded device profile: the server to register to, the objects to serve, and what backs them.

These are the checked contents of a profile file, still free of hardware: a :class:`Profile` can
be loaded, printed and compared on any machine. ``agent.profiles.build`` turns one into an object
tree. Every part keeps its :class:`~agent.profiles.errors.Where` so that problems found later
(a port that does not exist on this machine) still name the line they come from.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..client.limits import ServerLimits
from ..core.model import ModelRegistry
from ..telemetry.settings import TelemetrySettings
from .errors import Where

if TYPE_CHECKING:
    from ..client.agent import ClientSettings
    from ..client.registration import RegistrationSettings
    from .sigfox import SigfoxProfile

DEFAULT_SHORT_SERVER_ID = 123


@dataclass(frozen=True)
class ServerProfile:
    """The ``[server]`` table: where to register, as whom, and with which credentials."""

    uri: str | None
    endpoint: str
    endpoint_warning: str | None
    lifetime: int = 60
    binding: str = "U"
    lwm2m_version: str = "1.0"
    bootstrap_uri: str | None = None
    psk_identity: bytes | None = None
    psk_key: bytes | None = field(default=None, repr=False)  # never in logs or tracebacks
    short_server_id: int = DEFAULT_SHORT_SERVER_ID
    retry_ceiling: int = 3600  # seconds: no retry delay is longer (agent.client.retry)

    @property
    def security_mode(self) -> int:
        """LwM2M Security Mode (0/x/2): 0 pre-shared key, 3 no security."""
        return 0 if self.psk_key is not None else 3

    def registration_settings(self, **overrides: Any) -> RegistrationSettings:
        """RegistrationSettings for this server (``overrides`` replace fields, e.g. ``endpoint=``)."""
        from ..client.registration import RegistrationSettings

        settings = RegistrationSettings(
            server_uri=self.uri or self.bootstrap_uri or "", endpoint=self.endpoint, lifetime=self.lifetime,
            binding=self.binding, lwm2m_version=self.lwm2m_version, backoff_max=float(self.retry_ceiling),
        )
        return replace(settings, **overrides)

    def client_settings(self, registration: RegistrationSettings | None = None, **overrides: Any) -> ClientSettings:
        """ClientSettings with this server's registration and bootstrap URI."""
        from ..client.agent import ClientSettings

        settings = ClientSettings(registration or self.registration_settings(), bootstrap_uri=self.bootstrap_uri)
        return replace(settings, **overrides)


@dataclass(frozen=True)
class SerialPortSpec:
    """A ``[serial.NAME]`` table, or a port a binding names directly (with default settings)."""

    name: str
    device: str  # a device path, or "sim:KIND" for a simulator device
    settings: dict[str, object]
    optional: bool
    where: Where  # the [serial.NAME] table, or the binding's port key
    declared: bool = False

    @property
    def device_where(self) -> Where:
        """Where the device path is written."""
        return self.where.at("device") if self.declared else self.where

    @property
    def simulated_kind(self) -> str | None:
        return self.device[len("sim:"):] if self.device.startswith("sim:") else None


@dataclass(frozen=True)
class BindingSpec:
    """One resource's binding: its kind and its keys as written (checked against the kind)."""

    object_id: int
    instance_id: int
    resource_id: int
    kind: str
    params: dict[str, Any]  # checked against the kind's schema (agent.profiles.kinds)
    where: Where


@dataclass(frozen=True)
class ShortcutSpec:
    """A whole-instance binding such as ``system = "device"`` or ``nmea = "sim:gps"``."""

    kind: str  # system, nmea, gpio_input, gpio_output, file_tree
    value: Any
    options: dict[str, Any]
    where: Where


@dataclass(frozen=True)
class InstanceSpec:
    object_id: int
    instance_id: int
    shortcut: ShortcutSpec | None
    resources: dict[int, BindingSpec]
    where: Where


@dataclass
class Profile:
    """A device profile, parsed and checked against its object models."""

    path: Path
    description: str
    server: ServerProfile
    models: ModelRegistry
    model_folders: list[Path]
    serial_ports: dict[str, SerialPortSpec]
    instances: list[InstanceSpec]
    sigfox: SigfoxProfile | None = None
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    limits: ServerLimits = field(default_factory=ServerLimits)
    warnings: list[str] = field(default_factory=list)
    where: Where | None = None

    def instance(self, object_id: int, instance_id: int) -> InstanceSpec | None:
        for spec in self.instances:
            if spec.object_id == object_id and spec.instance_id == instance_id:
                return spec
        return None
