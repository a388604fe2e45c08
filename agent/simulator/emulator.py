"""The local Soracom cloud emulator as one object: LwM2M server, bootstrap server and HTTP API.

``lwm2m-agent simulate``, the fleet benchmark and the end-to-end tests all need the same assembly
(the Inventory sits between the LwM2M server and the API; the bootstrap server provisions devices
through the Inventory), so it is written once, here.
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
from .lwm2m_server import LwM2MServer

log = logging.getLogger(__name__)


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
        self.config = CloudConfig(auth_key_id=self.settings.auth_key_id, auth_key=self.settings.auth_key)
        for key, value in self.settings.config_overrides.items():
            setattr(self.config, key, value)

    async def start(self) -> None:
        s = self.settings
        self.store = CloudStore.open(s.state_file) if s.state_file else CloudStore()
        self.server = LwM2MServer(self.models, host=s.host, port=s.lwm2m_port)
        await self.server.start()
        self.inventory = Inventory(self.server, self.store, self.config,
                                   InventorySettings(read_device_info=s.read_device_info))
        await self.inventory.start()
        self.cloud = await start_cloud(self.config, self.store, host=s.host,
                                       ports=replace(s.ingest_ports, api=s.api_port), inventory=self.inventory)
        self.bootstrap = BootstrapServer(
            self.models, BootstrapSettings(dm_server_uri=self.server.uri, lifetime=s.lifetime),
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
        if self.server is not None:
            await self.server.stop()
        if self.store is not None:
            with contextlib.suppress(Exception):
                self.store.close()

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
