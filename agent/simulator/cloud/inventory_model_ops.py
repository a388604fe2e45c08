"""The device object model operations: list (paging), create, get, update, delete and set scope.

A model is sent as the request body itself, OMA DDF XML (``Content-Type: application/xml``) or the JSON
form of ``agent.models`` (``application/json``); the rules it must follow live in ``inventory_models``.
Create answers 200, as the API declares.
"""

from __future__ import annotations

from agent.simulator.cloud.errors import bad_request
from agent.simulator.cloud.inventory_api import ApiCall, ApiOperation, ApiOutcome
from agent.simulator.cloud.inventory_context import InventoryContext

MAX_SCOPE_LENGTH = 100


class ModelOperations:
    def __init__(self, context: InventoryContext) -> None:
        self.context = context

    def operations(self) -> list[ApiOperation]:
        model = "/v1/device_object_models/{model_id}"
        return [
            ApiOperation("listDeviceObjectModels", "GET", "/v1/device_object_models", self.list_models),
            ApiOperation("createDeviceObjectModel", "POST", "/v1/device_object_models", self.create_model),
            ApiOperation("getDeviceObjectModel", "GET", model, self.get_model),
            ApiOperation("updateDeviceObjectModel", "POST", model, self.update_model),
            ApiOperation("deleteDeviceObjectModel", "DELETE", model, self.delete_model),
            ApiOperation("setDeviceObjectModelScope", "POST", model + "/set_scope", self.set_scope),
        ]

    def _render(self, model_id: str) -> dict[str, object]:
        return self.context.models.get(model_id).render(self.context.operator_id)

    async def list_models(self, call: ApiCall) -> ApiOutcome:
        limit = call.int_query("limit", -1)
        models, next_key = self.context.models.page(
            None if limit is None or limit < 0 else limit, call.query.get("last_evaluated_key") or None
        )
        return ApiOutcome(200, [m.render(self.context.operator_id) for m in models], next_key)

    async def create_model(self, call: ApiCall) -> ApiOutcome:
        if not call.body.strip():
            raise bad_request("the request body must be the model: OMA DDF XML or JSON")
        stored = self.context.models.create(call.body, call.content_type)
        return ApiOutcome(200, stored.render(self.context.operator_id))

    async def get_model(self, call: ApiCall) -> ApiOutcome:
        return ApiOutcome(200, self._render(call.param("model_id")))

    async def update_model(self, call: ApiCall) -> ApiOutcome:
        self.context.models.get(call.param("model_id"))  # 404 before complaining about the body
        if not call.body.strip():
            raise bad_request("the request body must be the model: OMA DDF XML or JSON")
        stored = self.context.models.update(call.param("model_id"), call.body, call.content_type)
        return ApiOutcome(200, stored.render(self.context.operator_id))

    async def delete_model(self, call: ApiCall) -> ApiOutcome:
        self.context.models.delete(call.param("model_id"))
        return ApiOutcome(204)

    async def set_scope(self, call: ApiCall) -> ApiOutcome:
        self.context.models.get(call.param("model_id"))
        scope = call.json_object().get("scope")
        if not isinstance(scope, str) or not scope or len(scope) > MAX_SCOPE_LENGTH:
            raise bad_request(f"field scope is required: a string of 1 to {MAX_SCOPE_LENGTH} characters")
        stored = self.context.models.set_scope(call.param("model_id"), scope)
        return ApiOutcome(200, stored.render(self.context.operator_id))
