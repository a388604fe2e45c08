"""The emulated Soracom Inventory and Batch services, joined to a local LwM2M server.

``Inventory`` is what ``create_app(config, store, inventory)`` plugs in: its ``routes()`` are the
Inventory API (devices, LwM2M operations on them, device object models) and the Batch API. It listens
to the LwM2M server's registration events, so a device registering appears as (or attaches to) an
Inventory device, online, with its address, lifetime and objects, and a background read of /3/0 fills
in manufacturer, model number, serial number and firmware version. The bootstrap server asks it for the
credentials of an endpoint with ``provision_device``; a DTLS front asks it for the key of a PSK identity
(a device id) with ``psk_key``. Notifications of observations started through the API become Harvest
Data entries of the device (format in ``inventory_observations``).

Behind a DTLS front (``peers``), a registration belongs to the device whose id authenticated the
session, not to whatever its endpoint name says: a client may register only the endpoint of its own
device (binding it, the first time, if the device has none), and may update or de-register only such
a registration; anything else is answered 4.03, and a client that did not come through DTLS is refused.

Lifecycle: ``await start()`` once the LwM2M server runs (loads uploaded models, hooks the events, picks
up devices already registered); ``await close()`` before stopping the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from aiohttp import web

from agent.core.errors import LwM2MError
from agent.core.path import Path
from agent.core.values import ResourceValue
from agent.simulator.cloud.batch import BatchService
from agent.simulator.cloud.config import CloudConfig
from agent.simulator.cloud.inventory_api import ApiOperation
from agent.simulator.cloud.inventory_context import InventoryContext
from agent.simulator.cloud.inventory_device_ops import DeviceOperations
from agent.simulator.cloud.inventory_devices import DEVICE_INFO_RESOURCES, DeviceRegistry, InventoryDevice
from agent.simulator.cloud.inventory_model_ops import ModelOperations
from agent.simulator.cloud.inventory_models import ObjectModelCatalog
from agent.simulator.cloud.inventory_observations import ObservationBook, notification_content
from agent.simulator.cloud.inventory_resource_ops import ResourceOperations
from agent.simulator.cloud.inventory_settings import InventorySettings
from agent.simulator.cloud.inventory_values import instance_contents
from agent.simulator.cloud.store import CloudStore, now_ms
from agent.simulator.lwm2m_server import ClientError, ClientRegistration, LwM2MServer

log = logging.getLogger(__name__)

DEVICE_INFO_PATH = Path(3, 0)


def ip_address(remote: object) -> str | None:
    """The IP address of an aiocoap remote, IPv4 without its IPv6-mapped prefix."""
    return sockaddr_ip(getattr(remote, "sockaddr", None))


def sockaddr_ip(sockaddr: object) -> str | None:
    """The IP address of a socket address tuple, IPv4 without its IPv6-mapped prefix."""
    if not isinstance(sockaddr, tuple) or not sockaddr:
        return None
    host = str(sockaddr[0])
    return host.removeprefix("::ffff:") if "." in host else host


class AuthenticatedPeers(Protocol):
    """What a DTLS front tells of the client behind a remote the LwM2M server saw."""

    def identity_of(self, remote: object) -> str | None: ...

    def peer_of(self, remote: object) -> tuple[str, int] | None: ...


def registered_instances(registration: ClientRegistration) -> list[tuple[int, int]]:
    """The object instances a registration lists (``</3/0>``), in order."""
    instances: list[tuple[int, int]] = []
    for target in registration.object_links:
        parts = target.strip("/").split("/")
        if len(parts) == 2 and all(part.isdigit() for part in parts):
            instances.append((int(parts[0]), int(parts[1])))
    return instances


class Inventory:
    """Inventory and Batch over ``server`` and ``store`` (see the module docstring)."""

    def __init__(
        self,
        server: LwM2MServer,
        store: CloudStore,
        config: CloudConfig,
        settings: InventorySettings | None = None,
        peers: AuthenticatedPeers | None = None,
    ) -> None:
        self.server = server
        self.peers = peers
        self.store = store
        self.config = config
        self.settings = settings or InventorySettings()
        self.devices = DeviceRegistry(store)
        self.observations = ObservationBook(server, self._store_notification)
        self.models = ObjectModelCatalog(store, server.models, self.settings, config.operator_id)
        self.context = InventoryContext(
            server, store, self.devices, self.observations, self.models, self.settings, config.operator_id
        )
        operations: list[ApiOperation] = [
            *DeviceOperations(self.context).operations(),
            *ResourceOperations(self.context).operations(),
            *ModelOperations(self.context).operations(),
        ]
        self.batch = BatchService(store, self.settings, operations)
        self._operations = [*operations, *self.batch.operations()]
        self._background: set[asyncio.Task[None]] = set()
        self._device_info_slots = asyncio.Semaphore(self.settings.device_info_concurrency)
        self._started = False

    # ---- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.models.load()
        self.batch.start()
        self.server.on_register.append(self._registered)
        self.server.on_update.append(self._updated)
        self.server.on_deregister.append(self._deregistered)
        if self.peers is not None:
            self.server.admission = self.admit
        self.server.on_send.append(self._sent)
        for registration in self.server.registrations.values():
            self._registered(registration)

    async def close(self) -> None:
        if not self._started:
            return
        self._started = False
        for callbacks, callback in (
            (self.server.on_register, self._registered),
            (self.server.on_update, self._updated),
            (self.server.on_deregister, self._deregistered),
        ):
            with contextlib.suppress(ValueError):
                callbacks.remove(callback)
        if self.server.admission == self.admit:
            self.server.admission = None
        with contextlib.suppress(ValueError):
            self.server.on_send.remove(self._sent)
        await self.batch.close()
        await self.observations.close()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def __aenter__(self) -> Inventory:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ---- what others call ----------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """The Inventory and Batch API routes, for ``create_app``."""
        return [operation.route() for operation in self._operations]

    async def provision_device(self, endpoint: str) -> tuple[str, bytes]:
        """The device id and secret key (decoded, 16 bytes) of ``endpoint``, creating the device if it is
        unknown: what the bootstrap server writes as PSK identity (/0/x/3) and key (/0/x/5). A coroutine,
        to be the bootstrap server's ``Provisioner`` as it is."""
        device, secret = self.devices.provision(endpoint)
        return device.device_id, secret

    def psk_key(self, identity: str) -> bytes | None:
        """The PSK of a device id (its secret key, decoded), None for no such device: a DTLS front's
        ``PskLookup``."""
        return self.devices.secret_key(identity)

    def admit(self, endpoint: str, remote: object) -> str | None:
        """The LwM2M server's ``Admission`` behind a DTLS front (see the module docstring)."""
        if self.peers is None:
            return None
        identity = self.peers.identity_of(remote)
        if identity is None:
            return "this server takes registrations over DTLS (PSK) only"
        device = self.devices.find(identity)
        if device is None:
            return f"no device {identity}"
        if device.endpoint is not None:
            if device.endpoint != endpoint:
                return f"device {identity} registers as {device.endpoint!r}, not {endpoint!r}"
            return None
        owner = self.devices.for_endpoint(endpoint)
        if (owner is not None and owner.device_id != identity) or (
                endpoint != identity and self.devices.find(endpoint) is not None):
            return f"endpoint {endpoint!r} belongs to another device, not to {identity}"
        return None

    # ---- registration events -------------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _device_of(self, registration: ClientRegistration) -> InventoryDevice:
        identity = self.peers.identity_of(registration.remote) if self.peers is not None else None
        device = self.devices.find(identity) if identity is not None else None
        if device is not None:
            # admitted: the device has this endpoint, or none yet
            return device if device.endpoint is not None else self.devices.set_endpoint(device, registration.endpoint)
        device = self.devices.for_endpoint(registration.endpoint)
        if device is None:
            device, _ = self.devices.create(endpoint=registration.endpoint)
            log.info("endpoint %s registered: new device %s", registration.endpoint, device.device_id)
        elif device.endpoint is None:
            device = self.devices.set_endpoint(device, registration.endpoint)
        return device

    def _registration_changes(
        self, device: InventoryDevice, registration: ClientRegistration
    ) -> dict[str, Any]:
        objects: dict[str, dict[str, Any]] = {}
        for object_id, instance_id in registered_instances(registration):
            known = device.objects.get(str(object_id), {}).get(str(instance_id), {})
            objects.setdefault(str(object_id), {})[str(instance_id)] = dict(known)
        return {
            "registration_id": registration.location,
            "registration_lifetime": registration.lifetime,
            "last_registration_update": now_ms(),
            "ip_address": self._ip_address(registration.remote),
            "objects": objects,
        }

    def _ip_address(self, remote: object) -> str | None:
        peer = self.peers.peer_of(remote) if self.peers is not None else None
        return ip_address(remote) if peer is None else sockaddr_ip(peer)

    def _registered(self, registration: ClientRegistration) -> None:
        device = self._device_of(registration)
        if device.registration_id != registration.location:
            # Observations belong to a registration; a new one starts without them, as on a real server.
            self.observations.stop_device(device.device_id)
        device = self.devices.save(device.changed(**self._registration_changes(device, registration)))
        if self.settings.read_device_info:
            self._spawn(self._read_device_info(device.device_id, registration.endpoint))

    def _updated(self, registration: ClientRegistration) -> None:
        device = self.devices.for_endpoint(registration.endpoint)
        if device is not None:
            # An Update refreshes the registration, not the record: lastModifiedTime stays.
            changes = self._registration_changes(device, registration)
            self.devices.save(device.changed(last_modified_time=device.last_modified_time, **changes))

    def _deregistered(self, registration: ClientRegistration) -> None:
        device = self.devices.for_endpoint(registration.endpoint)
        if device is not None and device.registration_id == registration.location:
            self.observations.stop_device(device.device_id)

    async def _read_device_info(self, device_id: str, endpoint: str) -> None:
        try:
            async with self._device_info_slots:
                result = await self.server.read(endpoint, DEVICE_INFO_PATH, self.settings.read_format)
        except (ClientError, LwM2MError) as exc:
            log.info("reading /3/0 of %s failed: %s", device_id, exc)
            return
        if not result.ok:
            log.info("reading /3/0 of %s answered %s", device_id, result.code)
            return
        info = {
            DEVICE_INFO_RESOURCES[value.path[2]]: str(value.value)
            for value in result.values
            if len(value.path) == 3 and value.path[2] in DEVICE_INFO_RESOURCES
        }
        device = self.devices.find(device_id)
        if device is None:
            return
        self.devices.save(device.changed(info={**device.info, **info}))
        contents = instance_contents(
            result.values, DEVICE_INFO_PATH, self.server.models.get(3), self.settings.values
        )
        self.devices.cache_values(device_id, 3, 0, contents)

    # ---- notifications -------------------------------------------------------------------------------

    def _sent(self, registration: ClientRegistration, values: list[ResourceValue]) -> None:
        """LwM2M Send: one Harvest Data entry per object instance, as a notification of it would be."""
        device = self.devices.for_endpoint(registration.endpoint)
        if device is None:
            return
        by_instance: dict[Path, list[ResourceValue]] = {}
        for value in values:
            if len(value.path) >= 3:
                by_instance.setdefault(Path(*value.path[:2]), []).append(value)
        for instance, instance_values in by_instance.items():
            self._store_notification(device.device_id, instance, instance_values)

    def _store_notification(self, device_id: str, path: Path, values: list[ResourceValue]) -> None:
        stamp = now_ms()
        content = notification_content(
            device_id, path, values, self.server.models, self.settings.values, stamp
        )
        self.store.add_data_entry("Device", device_id, stamp, "application/json", json.dumps(content))
        contents = instance_contents(
            values, Path(*path[:2]), self.server.models.get(path[0]), self.settings.values
        )
        self.devices.cache_values(device_id, path[0], path[1], contents)
