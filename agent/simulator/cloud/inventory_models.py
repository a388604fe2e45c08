"""Device object models an operator uploads (``/v1/device_object_models``), with the service's limits.

A model is one LwM2M object, in OMA DDF XML or in the JSON form of ``agent.models``; it is parsed by the
same loaders the agent uses, so a model is refused here exactly when the agent would refuse the file,
with the element and the fix named (``request body: Object 32770 / Resource 3 / type: ...``). On top,
the service's rules: at most 16 custom objects per account and 20 resources per object, and no upload
of the standard objects it already knows (0-9, 3200-3203, 3300-3350). The model id is the object id.

An accepted model joins the LwM2M server's ``ModelRegistry`` at once, so the device's TLV answers for
that object decode and ``?model=true`` names its resources; deleting it puts back whatever model the
server had for that object before (a shipped one) or none. Uploads are kept in the store, in the
canonical form of their format (``dump_ddf``/``dump_json``), and loaded again when the emulator starts.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from agent.core.model import ModelRegistry, ObjectModel
from agent.models import ModelError, dump_ddf, dump_json, parse_ddf, parse_json_models
from agent.simulator.cloud.errors import bad_request
from agent.simulator.cloud.inventory_settings import (
    STANDARD_OBJECT_RANGES,
    InventorySettings,
    is_standard_object,
)
from agent.simulator.cloud.records import RuleViolation, UnknownItem
from agent.simulator.cloud.sigfox import iso_time
from agent.simulator.cloud.store import CloudStore, now_ms

log = logging.getLogger(__name__)

ModelFormat = Literal["xml", "json"]
_SOURCE = "request body"
_STANDARD = ", ".join(f"{low}-{high}" for low, high in STANDARD_OBJECT_RANGES)


@dataclass(frozen=True)
class StoredModel:
    """An uploaded model: metadata, and the definition as it was sent. Times are UNIX ms."""

    model_id: str
    object_name: str
    format: ModelFormat
    definition: str
    scope: str
    created_time: int
    last_modified_time: int

    def render(self, operator_id: str) -> dict[str, Any]:
        """The API's ``DeviceObjectModel``."""
        return {
            "objectId": self.model_id,
            "objectName": self.object_name,
            "format": self.format,
            "scope": self.scope,
            "operatorId": operator_id,
            "createdTime": iso_time(self.created_time),
            "lastModifiedTime": iso_time(self.last_modified_time),
        }


def upload_format(body: bytes, content_type: str) -> ModelFormat:
    """XML or JSON by the Content-Type, else by the first character (``<`` is XML)."""
    kind = content_type.lower()
    if "xml" in kind:
        return "xml"
    if "json" in kind:
        return "json"
    return "xml" if body.lstrip().startswith(b"<") else "json"


def parse_upload(body: bytes, model_format: ModelFormat, settings: InventorySettings) -> ObjectModel:
    """The one object a request body defines; 400 naming the element and the fix otherwise."""
    try:
        parsed = parse_ddf(body, _SOURCE) if model_format == "xml" else parse_json_models(body, _SOURCE)
    except ModelError as exc:
        raise bad_request(str(exc)) from None
    if len(parsed.models) != 1:
        ids = ", ".join(str(model.id) for model in parsed.models)
        raise bad_request(
            f"{_SOURCE}: defines {len(parsed.models)} objects ({ids}); fix: upload one object per model"
        )
    model = parsed.models[0]
    if is_standard_object(model.id):
        raise bad_request(
            f"{_SOURCE}: Object {model.id} / ObjectID: object {model.id} is a standard object the service "
            f"already knows ({_STANDARD}); fix: give a custom object an id outside those ranges"
        )
    if len(model.resources) > settings.max_resources_per_object:
        raise bad_request(
            f"{_SOURCE}: Object {model.id} / Resources: {len(model.resources)} resources, more than the "
            f"{settings.max_resources_per_object} the service allows per object; fix: split the object"
        )
    return model


class ObjectModelCatalog:
    """The uploaded models of the account, kept in the store and in the LwM2M server's registry."""

    def __init__(
        self, store: CloudStore, registry: ModelRegistry, settings: InventorySettings, operator_id: str
    ) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings
        self.operator_id = operator_id
        self._base = dict(registry.models)
        self._models: dict[str, StoredModel] = {}

    def load(self) -> None:
        """Read the stored uploads into the registry; one that no longer loads is skipped, said in the log."""
        for model_id, record in self.store.device_object_models():
            stored = StoredModel(**record)
            try:
                model = parse_upload(stored.definition.encode(), stored.format, self.settings)
            except Exception as exc:
                log.warning("stored device object model %s no longer loads, skipped: %s", model_id, exc)
                continue
            self._models[model_id] = stored
            self.registry.add(model)

    def get(self, model_id: str) -> StoredModel:
        stored = self._models.get(model_id)
        if stored is None:
            raise UnknownItem(f"no such device object model: {model_id}")
        return stored

    def page(self, limit: int | None, after: str | None) -> tuple[list[StoredModel], str | None]:
        ordered = sorted(self._models.values(), key=lambda stored: int(stored.model_id))
        if after is not None:
            ordered = [stored for stored in ordered if _order(stored.model_id) > _order(after)]
        if limit is not None and len(ordered) > limit:
            page = ordered[:limit]
            return page, page[-1].model_id if page else None
        return ordered, None

    def create(self, body: bytes, content_type: str) -> StoredModel:
        model_format = upload_format(body, content_type)
        model = parse_upload(body, model_format, self.settings)
        model_id = str(model.id)
        if model_id in self._models:
            raise RuleViolation(
                f"a model of object {model.id} exists; "
                f"update it with POST /v1/device_object_models/{model_id}"
            )
        if len(self._models) >= self.settings.max_custom_objects:
            raise RuleViolation(
                f"the account has {len(self._models)} custom objects, the most the service allows; "
                "delete one before uploading another"
            )
        stamp = now_ms()
        stored = StoredModel(
            model_id,
            model.name,
            model_format,
            _definition(model, model_format),
            self.operator_id,
            stamp,
            stamp,
        )
        return self._keep(stored, model)

    def update(self, model_id: str, body: bytes, content_type: str) -> StoredModel:
        current = self.get(model_id)
        model_format = upload_format(body, content_type)
        model = parse_upload(body, model_format, self.settings)
        if str(model.id) != model_id:
            raise bad_request(
                f"{_SOURCE}: ObjectID is {model.id} but this model is object {model_id}; "
                "fix: keep the object id"
            )
        stored = replace(
            current,
            object_name=model.name,
            format=model_format,
            definition=_definition(model, model_format),
            last_modified_time=now_ms(),
        )
        return self._keep(stored, model)

    def set_scope(self, model_id: str, scope: str) -> StoredModel:
        stored = replace(self.get(model_id), scope=scope, last_modified_time=now_ms())
        self.store.save_device_object_model(model_id, asdict(stored))
        self._models[model_id] = stored
        return stored

    def delete(self, model_id: str) -> None:
        self.get(model_id)
        self.store.delete_device_object_model(model_id)
        del self._models[model_id]
        object_id = int(model_id)
        base = self._base.get(object_id)
        if base is not None:
            self.registry.add(base)
        else:
            self.registry.models.pop(object_id, None)

    def _keep(self, stored: StoredModel, model: ObjectModel) -> StoredModel:
        self.store.save_device_object_model(stored.model_id, asdict(stored))
        self._models[stored.model_id] = stored
        self.registry.add(model)
        return stored


def _order(model_id: str) -> int:
    try:
        return int(model_id)
    except ValueError:
        return -1


def _definition(model: ObjectModel, model_format: ModelFormat) -> str:
    # Kept in the canonical form of its format, UTF-8, so it loads again whatever encoding was sent.
    if model_format == "xml":
        return dump_ddf(model).decode("utf-8")
    return json.dumps(dump_json(model), ensure_ascii=False)
