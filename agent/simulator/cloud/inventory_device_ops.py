"""The Inventory device operations: list (tag filter, paging), create, get, delete, tags and group.

``createDevice`` answers the new Device and, like the console's "register device" dialog, its secret key
(``secretKey``, base64 of 16 bytes) once: there is no other way to learn it, and it is what a SIM-less
device uses as its PSK and as ``device_secret`` for ``/devices/{id}/publish``. Deleting a device ends
its observations and drops its LwM2M registration, so a running agent registers again and becomes a
new device, as an unknown endpoint does.
"""

from __future__ import annotations

from typing import Any

from agent.simulator.cloud.errors import bad_request
from agent.simulator.cloud.inventory_api import ApiCall, ApiOperation, ApiOutcome
from agent.simulator.cloud.inventory_context import InventoryContext

_MATCH_MODES = ("exact", "prefix")


def _optional_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"field {name} must be a string")
    return value


def _tags(raw: Any, name: str = "tags") -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise bad_request(f"field {name} must be an object of string values")
    return dict(raw)


class DeviceOperations:
    def __init__(self, context: InventoryContext) -> None:
        self.context = context

    def operations(self) -> list[ApiOperation]:
        device = "/v1/devices/{device_id}"
        return [
            ApiOperation("listDevices", "GET", "/v1/devices", self.list_devices),
            ApiOperation("createDevice", "POST", "/v1/devices", self.create_device),
            ApiOperation("getDevice", "GET", device, self.get_device),
            ApiOperation("deleteDevice", "DELETE", device, self.delete_device),
            ApiOperation("putDeviceTags", "PUT", device + "/tags", self.put_tags, batchable=True),
            ApiOperation(
                "deleteDeviceTag", "DELETE", device + "/tags/{tag_name}", self.delete_tag, batchable=True
            ),
            ApiOperation("setDeviceGroup", "POST", device + "/set_group", self.set_group, batchable=True),
            ApiOperation(
                "unsetDeviceGroup", "POST", device + "/unset_group", self.unset_group, batchable=True
            ),
        ]

    async def list_devices(self, call: ApiCall) -> ApiOutcome:
        tag_name = call.query.get("tag_name")
        tag_value = call.query.get("tag_value")
        if tag_name is not None and tag_value is None:
            raise bad_request("query parameter tag_value is required when tag_name is given")
        mode = call.query.get("tag_value_match_mode", "exact")
        if mode not in _MATCH_MODES:
            raise bad_request(f"query parameter tag_value_match_mode must be exact or prefix, not {mode!r}")
        limit = call.int_query("limit", -1)
        devices, next_key = self.context.devices.page(
            limit=None if limit is None or limit < 0 else limit,
            after=call.query.get("last_evaluated_key") or None,
            tag_name=tag_name,
            tag_value=tag_value,
            prefix_match=mode == "prefix",
        )
        return ApiOutcome(200, [self.context.render_device(d) for d in devices], next_key)

    async def create_device(self, call: ApiCall) -> ApiOutcome:
        body = call.json_object(required=False)
        endpoint = _optional_string(body, "endpoint")
        if endpoint == "":
            raise bad_request("field endpoint must not be empty")
        device, secret = self.context.devices.create(
            endpoint=endpoint, tags=_tags(body.get("tags")), group_id=_optional_string(body, "groupId")
        )
        return ApiOutcome(201, {**self.context.render_device(device), "secretKey": secret})

    async def get_device(self, call: ApiCall) -> ApiOutcome:
        device = self.context.devices.get(call.param("device_id"))
        return ApiOutcome(200, self.context.render_device(device, call.bool_query("model")))

    async def delete_device(self, call: ApiCall) -> ApiOutcome:
        device = self.context.devices.delete(call.param("device_id"))
        self.context.observations.stop_device(device.device_id)
        if device.endpoint is not None:
            self.context.server.forget(device.endpoint)
        return ApiOutcome(204)

    async def put_tags(self, call: ApiCall) -> ApiOutcome:
        self.context.devices.get(call.param("device_id"))  # 404 before complaining about the body
        body = call.json()
        if not isinstance(body, list):
            raise bad_request("the request body must be an array of {tagName, tagValue}")
        tags: dict[str, str] = {}
        for index, item in enumerate(body):
            if not isinstance(item, dict):
                raise bad_request(f"tags[{index}] must be an object with tagName and tagValue")
            name, value = item.get("tagName"), item.get("tagValue")
            if not isinstance(name, str) or not name:
                raise bad_request(f"tags[{index}].tagName is required and must be a string")
            if not isinstance(value, str):
                raise bad_request(f"tags[{index}].tagValue is required and must be a string")
            tags[name] = value
        device = self.context.devices.put_tags(call.param("device_id"), tags)
        return ApiOutcome(200, self.context.render_device(device))

    async def delete_tag(self, call: ApiCall) -> ApiOutcome:
        self.context.devices.delete_tag(call.param("device_id"), call.param("tag_name"))
        return ApiOutcome(204)

    async def set_group(self, call: ApiCall) -> ApiOutcome:
        self.context.devices.get(call.param("device_id"))
        group_id = _optional_string(call.json_object(), "groupId")
        if not group_id:
            raise bad_request("field groupId is required")
        device = self.context.devices.set_group(call.param("device_id"), group_id)
        return ApiOutcome(200, self.context.render_device(device))

    async def unset_group(self, call: ApiCall) -> ApiOutcome:
        device = self.context.devices.set_group(call.param("device_id"), None)
        return ApiOutcome(200, self.context.render_device(device))
