"""A JSON form of an object model, shaped after the Soracom API's ``ResourceInstance``.

Custom objects are easier to write by hand in JSON than in DDF XML, and Soracom Inventory takes
models in either form. The API publishes no schema for a whole model, so this one reuses the
field names of its ``ResourceInstance`` (``id``, ``name``, ``operations``, ``multiple``,
``mandatory``, ``type``, ``rangeEnumeration``, ``units``, ``description``) and adds the object's
own (``objectId``, ``version``, ``lwm2mVersion``, ``urn``)::

    {"objectId": 3303, "name": "Temperature", "description": "", "multiple": true,
     "mandatory": false, "version": "1.1", "lwm2mVersion": "1.0", "urn": "urn:oma:lwm2m:ext:3303:1.1",
     "resources": [{"id": 5700, "name": "Sensor Value", "operations": "R", "multiple": false,
                    "mandatory": true, "type": "FLOAT", "rangeEnumeration": "", "units": "Cel",
                    "description": ""}]}

A file holds one such object or a list of them. Types are read in the API's upper case
(``UNSIGNED_INTEGER``) or the DDF spelling (``Unsigned Integer``); flags as booleans or the DDF
words. Unknown fields are refused, because a misspelt optional field would otherwise be lost
silently; the API's run-time fields ``observed``, ``value`` and ``values`` are ignored so that a
resource copied from an API answer loads. An object without ``multiple`` is multiple-instance and
one without ``version``/``lwm2mVersion`` is 1.0, as in DDF; a resource without ``multiple`` or
``mandatory`` is single and optional, as the API's defaults say.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from ..core.model import ObjectModel, ResourceModel, ResourceType
from . import checks
from .parsed import ParsedModels
from .reader import ModelReader

_T = TypeVar("_T")

_OBJECT_REQUIRED = ("objectId", "name", "resources")
_OBJECT_OPTIONAL = ("description", "multiple", "mandatory", "version", "lwm2mVersion", "urn")
_RESOURCE_REQUIRED = ("id", "name", "operations")
_RESOURCE_OPTIONAL = ("type", "multiple", "mandatory", "rangeEnumeration", "units", "description")
_RESOURCE_IGNORED = ("observed", "value", "values")
_API_TYPES = ", ".join(t.name for t in ResourceType if t is not ResourceType.NONE)
_SHAPE_FIX = 'write {"objectId": ..., "name": ..., "resources": [...]} or a list of such objects'


class _Reader(ModelReader):
    """Reads one JSON document: its objects, their fields and their lists of resources."""

    def fields(
        self, raw: Any, where: str, required: tuple[str, ...], allowed: tuple[str, ...]
    ) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.error(where, f"expected a JSON object, found {_json_kind(raw)}", _SHAPE_FIX)
        for key in raw:
            if key not in allowed:
                raise self.error(
                    f"{where} / {key}",
                    f"unknown field {key!r}",
                    "remove it or correct its spelling; known fields: "
                    + ", ".join(required + allowed[len(required) :]),
                )
        for key in required:
            if key not in raw:
                raise self.error(f"{where} / {key}", f"field {key!r} is missing", f"add {key!r}")
        return raw

    def document(self, data: bytes) -> ParsedModels:
        if not data.strip():
            raise self.error("", "file is empty", _SHAPE_FIX)
        try:
            raw = json.loads(data, object_pairs_hook=_unique_keys)
        except UnicodeDecodeError as problem:
            raise self.error(
                "", f"not UTF-8 text ({problem.reason} at byte {problem.start})", "save it as UTF-8"
            ) from None
        except json.JSONDecodeError as problem:
            raise self.error(
                "",
                f"not valid JSON ({problem.msg} at line {problem.lineno}, column {problem.colno})",
                "fix the JSON syntax at that position",
            ) from None
        except RecursionError:
            raise self.error("", "JSON nested too deeply", _SHAPE_FIX) from None
        except _DuplicateKey as problem:
            raise self.error(
                "", f"field {problem.key!r} appears twice in one JSON object", "keep one of them"
            ) from None
        return self.models(raw)

    def models(self, raw: Any) -> ParsedModels:
        if isinstance(raw, list):
            if not raw:
                raise self.error("", "the list of objects is empty", _SHAPE_FIX)
            models = [self.object(entry, f"[{index}]") for index, entry in enumerate(raw)]
        else:
            models = [self.object(raw, "")]
        seen: set[int] = set()
        for model in models:
            if model.id in seen:
                raise self.error(
                    f"Object {model.id}",
                    f"object {model.id} is defined twice in this file",
                    "keep one definition",
                )
            seen.add(model.id)
        return ParsedModels(models, self.warnings)

    def object(self, raw: Any, label: str) -> ObjectModel:
        where = label or "object"
        found = self.fields(raw, where, _OBJECT_REQUIRED, _OBJECT_REQUIRED + _OBJECT_OPTIONAL)
        object_id = self.check(
            f"{where} / objectId", lambda value: checks.identifier(value, "object"), found["objectId"]
        )
        where = f"Object {object_id}"
        resources_raw = found["resources"]
        if not isinstance(resources_raw, list):
            raise self.error(
                f"{where} / resources",
                f"expected a list of resources, found {_json_kind(resources_raw)}",
                'write "resources": [{"id": ..., "name": ..., "operations": ...}, ...]',
            )
        if not resources_raw:
            raise self.error(
                f"{where} / resources", "the list of resources is empty", "define at least one resource"
            )
        resources: dict[int, ResourceModel] = {}
        for index, entry in enumerate(resources_raw):
            resource = self.resource(entry, where, index)
            self.add_resource(
                resources, resource, f"{where} / Resource {resource.id}", "give each resource its own id"
            )
        return ObjectModel(
            id=object_id,
            name=self.check(f"{where} / name", checks.name, found["name"]),
            resources=resources,
            multiple=self.check(f"{where} / multiple", checks.multiple, found.get("multiple", True)),
            mandatory=self.check(f"{where} / mandatory", checks.mandatory, found.get("mandatory", False)),
            version=self.check(f"{where} / version", checks.version, found.get("version")),
            lwm2m_version=self.check(f"{where} / lwm2mVersion", checks.version, found.get("lwm2mVersion")),
            urn=self.check(f"{where} / urn", checks.text, found.get("urn", "")),
            description=self.check(f"{where} / description", checks.text, found.get("description", "")),
        )

    def resource(self, raw: Any, parent: str, index: int) -> ResourceModel:
        where = f"{parent} / resources[{index}]"
        found = self.fields(
            raw, where, _RESOURCE_REQUIRED, _RESOURCE_REQUIRED + _RESOURCE_OPTIONAL + _RESOURCE_IGNORED
        )
        resource_id = self.check(
            f"{where} / id", lambda value: checks.identifier(value, "resource"), found["id"]
        )
        where = f"{parent} / Resource {resource_id}"
        ops = self.check(f"{where} / operations", checks.operations, found["operations"])
        if "type" not in found and not ops.executable:
            raise self.error(
                f"{where} / type",
                "field 'type' is missing",
                'add "type": one of ' + _API_TYPES,
            )
        declared = self.check(f"{where} / type", checks.resource_type, found.get("type"))
        rtype = self.resource_type(ops, declared, f"{where} / type")
        return ResourceModel(
            id=resource_id,
            name=self.check(f"{where} / name", checks.name, found["name"]),
            operations=ops,
            type=rtype,
            multiple=self.check(f"{where} / multiple", checks.multiple, found.get("multiple", False)),
            mandatory=self.check(f"{where} / mandatory", checks.mandatory, found.get("mandatory", False)),
            range_enumeration=self.check(
                f"{where} / rangeEnumeration", checks.text, found.get("rangeEnumeration", "")
            ),
            units=self.check(f"{where} / units", checks.text, found.get("units", "")),
            description=self.check(f"{where} / description", checks.text, found.get("description", "")),
        )


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys; in a hand-written model that hides a mistake.
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__


def parse_json_models(data: bytes, source: str = "<json>") -> ParsedModels:
    """Read a JSON model file (one object or a list); raise ModelError naming ``source``."""
    return _Reader(source).document(data)


def load_json(value: Any, source: str = "<json>") -> ParsedModels:
    """Build models from already-decoded JSON (an API request body, say); same rules as a file."""
    return _Reader(source).models(value)


def dump_json(model: ObjectModel) -> dict[str, Any]:
    """The JSON form of a model; :func:`parse_json_models` reads it back to an equal model."""
    return {
        "objectId": model.id,
        "name": model.name,
        "description": model.description,
        "multiple": model.multiple,
        "mandatory": model.mandatory,
        "version": model.version,
        "lwm2mVersion": model.lwm2m_version,
        "urn": model.urn,
        "resources": [
            {
                "id": resource.id,
                "name": resource.name,
                # The Soracom API spells "no operations" NONE; an empty string reads back the same.
                "operations": resource.operations.value or "NONE",
                "multiple": resource.multiple,
                "mandatory": resource.mandatory,
                "type": resource.type.name,
                "rangeEnumeration": resource.range_enumeration,
                "units": resource.units,
                "description": resource.description,
            }
            for resource in model.resources.values()
        ],
    }


def dumps_json(models: list[ObjectModel]) -> bytes:
    """A JSON model file: one object alone, several as a list (UTF-8, indented for people)."""
    body: Any = [dump_json(model) for model in models]
    if len(body) == 1:
        body = body[0]
    return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode()
