"""Inventory devices: the records behind ``/v1/devices``, and how LwM2M endpoints map to them.

A device has an id (``d-`` and 20 lower-case letters and digits, as the console issues), a secret key
(base64 of 16 random bytes; the device's PSK and its ``device_secret`` for Harvest), tags, a group,
what its last registration said (endpoint, address, lifetime, objects) and what /3/0 told about it.
An endpoint that registers is the device whose ``endpoint`` it is, or whose id it is (a SIM-less
device created in the console uses its id as PSK identity; without DTLS the emulator matches the name);
an unknown endpoint gets a new device, as bootstrap does on the real service, which trusts the name.

Records live in the ``CloudStore`` as JSON so they survive a restart; an endpoint index is kept in
memory, because a fleet of 10,000 agents registering must not scan every record each time.
"""

from __future__ import annotations

import base64
import secrets
import string
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from agent.simulator.cloud.records import RuleViolation, UnknownItem
from agent.simulator.cloud.sigfox import iso_time
from agent.simulator.cloud.store import CloudStore, now_ms

DEVICE_ID_PREFIX = "d-"
DEVICE_ID_LENGTH = 20
SECRET_KEY_BYTES = 16
_ID_ALPHABET = string.ascii_lowercase + string.digits

DEVICE_INFO_RESOURCES = {0: "manufacturer", 1: "modelNumber", 2: "serialNumber", 3: "firmwareVersion"}
"""Resources of /3/0 that the Device record shows, by the record's field names."""

ResourceCache = dict[str, dict[str, dict[str, dict[str, Any]]]]
"""Last values seen, object id -> instance id -> resource id -> ``{"value": x}`` or ``{"values": {...}}``."""


def new_device_id() -> str:
    return DEVICE_ID_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(DEVICE_ID_LENGTH))


def new_secret_key() -> str:
    return base64.b64encode(secrets.token_bytes(SECRET_KEY_BYTES)).decode()


@dataclass(frozen=True)
class InventoryDevice:
    """One Inventory device as the store keeps it; times are UNIX ms."""

    device_id: str
    created_time: int
    last_modified_time: int
    endpoint: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    group_id: str | None = None
    registration_id: str | None = None
    registration_lifetime: int | None = None
    last_registration_update: int | None = None
    ip_address: str | None = None
    info: dict[str, str] = field(default_factory=dict)  # DEVICE_INFO_RESOURCES fields found in /3/0
    objects: ResourceCache = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> InventoryDevice:
        return cls(**dict(raw))

    def changed(self, **changes: Any) -> InventoryDevice:
        changes.setdefault("last_modified_time", now_ms())
        return replace(self, **changes)

    def render(self, operator_id: str, *, online: bool, objects: Mapping[str, Any] | None) -> dict[str, Any]:
        """The API's ``Device``; ``objects`` is rendered by the caller, who knows models and observations."""
        rendered: dict[str, Any] = {
            "device_id": self.device_id,
            "operatorId": operator_id,
            "online": online,
            "tags": dict(self.tags),
            "lastModifiedTime": iso_time(self.last_modified_time),
        }
        optional = {
            "endpoint": self.endpoint,
            "groupId": self.group_id,
            "registrationId": self.registration_id,
            "registrationLifeTime": self.registration_lifetime,
            "lastRegistrationUpdate": None
            if self.last_registration_update is None
            else iso_time(self.last_registration_update),
            "ipAddress": self.ip_address,
        }
        rendered.update({key: value for key, value in optional.items() if value is not None})
        rendered.update(self.info)
        if objects is not None:
            rendered["objects"] = dict(objects)
        return rendered


class DeviceRegistry:
    """The Inventory devices of the store, with the endpoint index (see the module docstring)."""

    def __init__(self, store: CloudStore) -> None:
        self.store = store
        self._by_endpoint: dict[str, str] = {}
        for device in self.all():
            if device.endpoint:
                self._by_endpoint[device.endpoint] = device.device_id

    def all(self) -> Iterator[InventoryDevice]:
        for _, record in self.store.list_devices():
            yield InventoryDevice.from_json(record)

    def find(self, device_id: str) -> InventoryDevice | None:
        record = self.store.get_device(device_id)
        return None if record is None else InventoryDevice.from_json(record)

    def get(self, device_id: str) -> InventoryDevice:
        device = self.find(device_id)
        if device is None:
            raise UnknownItem(f"no such device: {device_id}")
        return device

    def save(self, device: InventoryDevice) -> InventoryDevice:
        self.store.save_device(device.device_id, device.to_json())
        return device

    def for_endpoint(self, endpoint: str) -> InventoryDevice | None:
        """The device an LwM2M endpoint name belongs to: by its endpoint, else by its id."""
        device_id = self._by_endpoint.get(endpoint)
        if device_id is not None:
            found = self.find(device_id)
            if found is not None:
                return found
            del self._by_endpoint[endpoint]
        if endpoint.startswith(DEVICE_ID_PREFIX):
            found = self.find(endpoint)
            if found is not None and found.endpoint in (None, endpoint):
                return found
        return None

    def create(
        self,
        *,
        endpoint: str | None = None,
        tags: Mapping[str, str] | None = None,
        group_id: str | None = None,
    ) -> tuple[InventoryDevice, str]:
        """A new device and its secret key (base64); ``RuleViolation`` if the endpoint is taken."""
        if endpoint is not None and self.for_endpoint(endpoint) is not None:
            raise RuleViolation(f"endpoint {endpoint!r} already belongs to a device")
        device_id = new_device_id()
        while self.store.get_device(device_id) is not None:
            device_id = new_device_id()
        stamp = now_ms()
        device = InventoryDevice(
            device_id, stamp, stamp, endpoint=endpoint, tags=dict(tags or {}), group_id=group_id
        )
        secret = new_secret_key()
        self.save(device)
        self.store.set_device_secret(device_id, secret)
        if endpoint is not None:
            self._by_endpoint[endpoint] = device_id
        return device, secret

    def provision(self, endpoint: str) -> tuple[InventoryDevice, bytes]:
        """The device of ``endpoint`` (created if unknown) and its secret key, decoded: what bootstrap
        hands the device as PSK identity (the device id) and key."""
        device = self.for_endpoint(endpoint)
        if device is None:
            device, secret = self.create(endpoint=endpoint)
        else:
            if device.endpoint is None:
                device = self.set_endpoint(device, endpoint)
            secret = self.store.device_secret(device.device_id) or ""
            if not secret:
                secret = new_secret_key()
                self.store.set_device_secret(device.device_id, secret)
        return device, base64.b64decode(secret)

    def secret_key(self, device_id: str) -> bytes | None:
        """The secret key of a device, decoded (its PSK); None for no such device or no valid key."""
        if self.store.get_device(device_id) is None:
            return None
        secret = self.store.device_secret(device_id)
        if not secret:
            return None
        try:
            return base64.b64decode(secret, validate=True)
        except ValueError:
            return None

    def set_endpoint(self, device: InventoryDevice, endpoint: str) -> InventoryDevice:
        self._by_endpoint[endpoint] = device.device_id
        return self.save(device.changed(endpoint=endpoint))

    def delete(self, device_id: str) -> InventoryDevice:
        device = self.get(device_id)
        self.store.delete_device(device_id)
        if device.endpoint and self._by_endpoint.get(device.endpoint) == device_id:
            del self._by_endpoint[device.endpoint]
        return device

    def page(
        self,
        *,
        limit: int | None,
        after: str | None,
        tag_name: str | None,
        tag_value: str | None,
        prefix_match: bool,
    ) -> tuple[list[InventoryDevice], str | None]:
        """Devices by id after ``after``, those with a matching tag if asked; the next page's key."""
        matched: list[InventoryDevice] = []
        for device in self.all():
            if after is not None and device.device_id <= after:
                continue
            if tag_name is not None:
                value = device.tags.get(tag_name)
                if value is None or tag_value is None:
                    continue
                if not (value.startswith(tag_value) if prefix_match else value == tag_value):
                    continue
            matched.append(device)
            if limit is not None and len(matched) > limit:
                page = matched[:limit]
                return page, page[-1].device_id if page else None
        return matched, None

    def put_tags(self, device_id: str, tags: Mapping[str, str]) -> InventoryDevice:
        device = self.get(device_id)
        return self.save(device.changed(tags={**device.tags, **tags}))

    def delete_tag(self, device_id: str, tag_name: str) -> InventoryDevice:
        device = self.get(device_id)
        if tag_name not in device.tags:
            raise UnknownItem(f"device {device_id} has no tag {tag_name!r}")
        return self.save(device.changed(tags={k: v for k, v in device.tags.items() if k != tag_name}))

    def set_group(self, device_id: str, group_id: str | None) -> InventoryDevice:
        return self.save(self.get(device_id).changed(group_id=group_id))

    def cache_values(
        self, device_id: str, object_id: int, instance_id: int, contents: Mapping[int, Mapping[str, Any]]
    ) -> None:
        """Remember values read or notified, so the Device record shows the last ones seen."""
        device = self.find(device_id)
        if device is None:
            return
        objects = {
            oid: {iid: dict(res) for iid, res in insts.items()} for oid, insts in device.objects.items()
        }
        resources = objects.setdefault(str(object_id), {}).setdefault(str(instance_id), {})
        for resource_id, content in contents.items():
            resources[str(resource_id)] = dict(content)
        self.save(replace(device, objects=objects))
