"""The local Soracom cloud emulator as one object: LwM2M server, bootstrap server and HTTP API.

``lwm2m-agent simulate``, the fleet benchmark and the end-to-end tests all need the same assembly
(the Inventory sits between the LwM2M server and the API; the bootstrap server provisions devices
through the Inventory), so it is written once, here.

``security="psk"`` puts the DM server behind DTLS as Soracom Inventory's is: a ``DtlsFront`` listens on
``lwm2m_port`` (``coaps://``), finds each PSK identity's key in the Inventory, and forwards to the plain
LwM2M server, which then listens on loopback only; the bootstrap server hands out that ``coaps://`` URI
with the device id as PSK identity and its secret as key.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath

from ..core.model import ModelRegistry
from ..soracom.api import SoracomApi
from .bootstrap_server import BootstrapServer, BootstrapSettings
from .cloud.config import CloudConfig
from .cloud.inventory import Inventory, InventorySettings
from .cloud.runner import CloudPorts, RunningCloud, start_cloud
from .cloud.store import CloudStore
from .dtls_front import DtlsFront, FrontSettings
from .lwm2m_server import LwM2MServer

log = logging.getLogger(__name__)

SECURITY_MODES = ("nosec", "psk")


@dataclass
class EmulatorSettings:
    host: str = "127.0.0.1"
    api_port: int = 0
    lwm2m_port: int = 0
    bootstrap_port: int = 0
    state_file: FsPath | None = None
    auth_key_id: str = "keyId-emulator"
    auth_key: str = "secret-emulator"
    lifetime: int = 60
    read_device_info: bool = True
    config_overrides: dict[str, object] = field(default_factory=dict)
    security: str = "nosec"  # or "psk": the DM server speaks DTLS PSK only (see the module docstring)
    dtls: FrontSettings = field(default_factory=FrontSettings)

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {', '.join(SECURITY_MODES)}, not {self.security!r}")
    # Harvest, Unified Endpoint and Files entry points (``api`` is ignored: api_port above).
    ingest_ports: CloudPorts = field(default_factory=CloudPorts)


class Emulator:
    """Start with :meth:`start`, stop with :meth:`close`; every part listens on ``settings.host``."""

    def __init__(self, models: ModelRegistry, settings: EmulatorSettings | None = None) -> None:
        self.models = models
        self.settings = settings or EmulatorSettings()
        self.store: CloudStore | None = None
        self.server: LwM2MServer | None = None
        self.inventory: Inventory | None = None
        self.cloud: RunningCloud | None = None
        self.bootstrap: BootstrapServer | None = None
        self.front: DtlsFront | None = None
        self.config = CloudConfig(auth_key_id=self.settings.auth_key_id, auth_key=self.settings.auth_key)
        for key, value in self.settings.config_overrides.items():
            setattr(self.config, key, value)

    async def start(self) -> None:
        s = self.settings
        self.store = CloudStore.open(s.state_file) if s.state_file else CloudStore()
        psk = s.security == "psk"
        if psk:
            self.server = LwM2MServer(self.models, host="127.0.0.1", port=0)
        else:
            self.server = LwM2MServer(self.models, host=s.host, port=s.lwm2m_port)
        await self.server.start()
        inventory_settings = InventorySettings(read_device_info=s.read_device_info)
        if psk:
            self.front = DtlsFront(("127.0.0.1", self.server.port), self._psk_key, host=s.host,
                                   port=s.lwm2m_port, settings=s.dtls)
            await self.front.start()
        self.inventory = Inventory(self.server, self.store, self.config, inventory_settings, peers=self.front)
        await self.inventory.start()
        self.cloud = await start_cloud(self.config, self.store, host=s.host,
                                       ports=replace(s.ingest_ports, api=s.api_port), inventory=self.inventory)
        self.bootstrap = BootstrapServer(
            self.models, BootstrapSettings(dm_server_uri=self.dm_server_uri, lifetime=s.lifetime),
            self.inventory.provision_device, host=s.host, port=s.bootstrap_port,
        )
        await self.bootstrap.start()

    async def close(self) -> None:
        if self.bootstrap is not None:
            await self.bootstrap.stop()
        if self.cloud is not None:
            await self.cloud.close()
        if self.inventory is not None:
            await self.inventory.close()
        if self.front is not None:
            await self.front.close()
        if self.server is not None:
            await self.server.stop()
        if self.store is not None:
            with contextlib.suppress(Exception):
                self.store.close()

    def _psk_key(self, identity: str) -> bytes | None:
        return self.inventory.psk_key(identity) if self.inventory is not None else None

    @property
    def dm_server_uri(self) -> str:
        """Where clients register: ``coaps://`` of the DTLS front with ``security="psk"``, else the
        plain server's ``coap://``."""
        if self.front is not None:
            return self.front.uri
        assert self.server is not None
        return self.server.uri

    @property
    def api_url(self) -> str:
        assert self.cloud is not None
        return self.cloud.api_url + "/v1"

    async def login(self) -> SoracomApi:
        """``POST /v1/auth`` with the configured key, over real HTTP, as a user's curl would."""
        api = SoracomApi(self.api_url)
        await api.authenticate(self.settings.auth_key_id, self.settings.auth_key)
        return api

    def device_id(self, endpoint: str) -> str | None:
        """The Inventory device id an endpoint was registered or bootstrapped as."""
        assert self.inventory is not None
        device = self.inventory.devices.for_endpoint(endpoint)
        return device.device_id if device is not None else None
