"""The Inventory operations that reach a device over LwM2M: read, write, execute, observe, unobserve.

Each turns the HTTP call into one LwM2M request to the device's live registration and the device's
answer into the API's: the values as ``ResourceInstance``/``ObjectInstance`` JSON, with the model's
names when ``?model=true``. Failures answer as the service documents (SORACOM-NOTES.md, "REST error
mapping"): 404 for an unknown device or a 4.04 from it; 400 when the device is offline or does not
answer, when it answers 4.05 (operation not allowed) or, for read/execute/observe, any other error;
500 with the device's message when it answers a write with an error. Writes are typed by the object's
model (``values`` for a multiple resource), so a custom object needs its model uploaded first.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from agent.core.errors import LwM2MError
from agent.core.path import MAX_ID, Path
from agent.simulator.cloud.errors import ApiError, bad_request
from agent.simulator.cloud.inventory_api import ApiCall, ApiOperation, ApiOutcome
from agent.simulator.cloud.inventory_context import (
    DEVICE_REFUSED,
    NOT_ON_DEVICE,
    InventoryContext,
    device_offline,
)
from agent.simulator.cloud.inventory_devices import InventoryDevice
from agent.simulator.cloud.inventory_values import (
    instance_contents,
    parse_resource_body,
    render_resource,
    resource_content,
)
from agent.simulator.lwm2m_server import ClientError, Result

_PATH_PARAMS = ("object", "instance", "resource")


def lwm2m_path(call: ApiCall, depth: int) -> Path:
    """The object/instance(/resource) of the call's path parameters; 400 naming a bad one."""
    ids: list[int] = []
    for name in _PATH_PARAMS[:depth]:
        raw = call.param(name)
        if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
            raise bad_request(f"path parameter {name} must be an integer 0..{MAX_ID}, not {raw!r}")
        ids.append(int(raw))
    return Path(*ids)


def _no_model(object_id: int) -> ApiError:
    return bad_request(
        f"no object model of object {object_id} is known; upload one with POST /v1/device_object_models"
    )


class ResourceOperations:
    def __init__(self, context: InventoryContext) -> None:
        self.context = context

    def operations(self) -> list[ApiOperation]:
        instance = "/v1/devices/{device_id}/{object}/{instance}"
        resource = instance + "/{resource}"
        return [
            ApiOperation("readDeviceResources", "GET", instance, self.read_instance, batchable=True),
            ApiOperation(
                "observeDeviceResources", "POST", instance + "/observe", self.observe_instance, batchable=True
            ),
            ApiOperation(
                "unobserveDeviceResources",
                "POST",
                instance + "/unobserve",
                self.unobserve_instance,
                batchable=True,
            ),
            ApiOperation("readDeviceResource", "GET", resource, self.read_resource, batchable=True),
            ApiOperation("writeDeviceResource", "PUT", resource, self.write_resource, batchable=True),
            ApiOperation(
                "executeDeviceResource", "POST", resource + "/execute", self.execute_resource, batchable=True
            ),
            ApiOperation(
                "observeDeviceResource", "POST", resource + "/observe", self.observe_resource, batchable=True
            ),
            ApiOperation(
                "unobserveDeviceResource",
                "POST",
                resource + "/unobserve",
                self.unobserve_resource,
                batchable=True,
            ),
        ]

    # ---- asking the device -------------------------------------------------------------------------

    async def _ask(
        self, device: InventoryDevice, action: str, path: Path, request: Awaitable[Result]
    ) -> Result:
        try:
            return await request
        except ClientError as exc:
            raise device_offline(device, exc.message) from None
        except LwM2MError as exc:
            object_id = path[0]
            if self.context.server.models.get(object_id) is None:
                raise _no_model(object_id) from None
            raise ApiError(
                400, DEVICE_REFUSED, f"cannot {action} {path} on {device.device_id}: {exc.message}"
            ) from None

    @staticmethod
    def _refused(
        device: InventoryDevice, action: str, path: Path, result: Result, *, write: bool = False
    ) -> ApiError:
        detail = f": {result.text}" if result.payload else ""
        message = f"device {device.device_id} answered {result.code} to {action} {path}{detail}"
        if result.code == "4.04":
            return ApiError(404, NOT_ON_DEVICE, message)
        if result.code == "4.05":
            return ApiError(400, DEVICE_REFUSED, f"{path} does not allow {action} ({message})")
        return ApiError(500 if write else 400, DEVICE_REFUSED, message)

    def _remember(self, device: InventoryDevice, instance: Path, contents: dict[int, dict[str, Any]]) -> None:
        self.context.devices.cache_values(device.device_id, instance[0], instance[1], contents)

    # ---- read ----------------------------------------------------------------------------------------

    async def _read(self, call: ApiCall, depth: int) -> tuple[InventoryDevice, Path, bool, Result]:
        """Read the ``depth``-id path the call names from its device; ApiError if the device refuses.

        Also answers the call's ``model`` flag, checked before the device is asked: a bad flag costs
        no request.
        """
        context = self.context
        device = context.devices.get(call.param("device_id"))
        path = lwm2m_path(call, depth)
        with_model = call.bool_query("model")
        endpoint = context.endpoint(device)
        result = await self._ask(
            device, "read", path, context.server.read(endpoint, path, context.settings.read_format)
        )
        if not result.ok:
            raise self._refused(device, "read", path, result)
        return device, path, with_model, result

    async def read_resource(self, call: ApiCall) -> ApiOutcome:
        context = self.context
        device, path, with_model, result = await self._read(call, 3)
        model = context.server.models.resource(path)
        content = resource_content(result.values, path, model, context.settings.values)
        self._remember(device, path, {path[2]: content})
        observed = context.observations.is_observed(device.device_id, path)
        return ApiOutcome(
            200, render_resource(path[2], content, observed=observed, model=model, with_model=with_model)
        )

    async def read_instance(self, call: ApiCall) -> ApiOutcome:
        context = self.context
        device, path, with_model, result = await self._read(call, 2)
        object_model = context.server.models.get(path[0])
        contents = instance_contents(result.values, path, object_model, context.settings.values)
        self._remember(device, path, contents)
        observed = context.observations.is_observed
        resources = {
            str(resource_id): render_resource(
                resource_id,
                content,
                observed=observed(device.device_id, path.child(resource_id)),
                model=None if object_model is None else object_model.resources.get(resource_id),
                with_model=with_model,
            )
            for resource_id, content in contents.items()
        }
        body = {"id": path[1], "observed": observed(device.device_id, path), "resources": resources}
        return ApiOutcome(200, body)

    # ---- write and execute ---------------------------------------------------------------------------

    async def write_resource(self, call: ApiCall) -> ApiOutcome:
        context = self.context
        device = context.devices.get(call.param("device_id"))
        path = lwm2m_path(call, 3)
        body = call.json_object()
        object_model = context.server.models.get(path[0])
        if object_model is None:
            raise _no_model(path[0])
        model = object_model.resources.get(path[2])
        if model is None:
            raise ApiError(
                404, NOT_ON_DEVICE, f"object {path[0]} ({object_model.name}) has no resource {path[2]}"
            )
        if model.operations.executable:
            raise ApiError(
                400, DEVICE_REFUSED, f"{path} ({model.name}) is executable: use POST {path}/execute"
            )
        try:
            values = parse_resource_body(body, path, model, context.settings.values)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        endpoint = context.endpoint(device)
        request = context.server.write(endpoint, path, values, content_format=context.settings.write_format)
        result = await self._ask(device, "write", path, request)
        if not result.ok:
            raise self._refused(device, "write", path, result, write=True)
        return ApiOutcome(202)

    async def execute_resource(self, call: ApiCall) -> ApiOutcome:
        context = self.context
        device = context.devices.get(call.param("device_id"))
        path = lwm2m_path(call, 3)
        arguments = call.json_object(required=False).get("value", "")
        if not isinstance(arguments, str):
            raise bad_request("field value (the execute arguments) must be a string")
        endpoint = context.endpoint(device)
        result = await self._ask(device, "execute", path, context.server.execute(endpoint, path, arguments))
        if not result.ok:
            raise self._refused(device, "execute", path, result)
        return ApiOutcome(202)

    # ---- observe -------------------------------------------------------------------------------------

    async def _observe(self, call: ApiCall, depth: int) -> ApiOutcome:
        context = self.context
        device = context.devices.get(call.param("device_id"))
        path = lwm2m_path(call, depth)
        call.bool_query("model")  # accepted as the API declares it; notifications always carry names
        endpoint = context.endpoint(device)
        request = context.observations.start(device.device_id, endpoint, path, context.settings.read_format)
        result = await self._ask(device, "observe", path, request)
        if not result.ok:
            raise self._refused(device, "observe", path, result)
        if not context.observations.is_observed(device.device_id, path):
            raise ApiError(
                400,
                DEVICE_REFUSED,
                f"device {device.device_id} answered without Observe: {path} cannot be observed",
            )
        return ApiOutcome(202)

    async def _unobserve(self, call: ApiCall, depth: int) -> ApiOutcome:
        device = self.context.devices.get(call.param("device_id"))
        self.context.observations.stop(device.device_id, lwm2m_path(call, depth))
        return ApiOutcome(204)

    async def observe_resource(self, call: ApiCall) -> ApiOutcome:
        return await self._observe(call, 3)

    async def observe_instance(self, call: ApiCall) -> ApiOutcome:
        return await self._observe(call, 2)

    async def unobserve_resource(self, call: ApiCall) -> ApiOutcome:
        return await self._unobserve(call, 3)

    async def unobserve_instance(self, call: ApiCall) -> ApiOutcome:
        return await self._unobserve(call, 2)
