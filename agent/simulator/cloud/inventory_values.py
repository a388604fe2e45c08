"""Resource values as the Inventory API shows them in JSON, and JSON written back as typed LwM2M values.

The API's ``ResourceInstance`` carries ``value`` (a single resource) or ``values`` (a multiple resource:
an object of resource-instance id to value); ``ObjectInstance`` holds resources by id. The spec types
``value`` as ``object`` (a Java ``Object`` leaking through); the service answers plain JSON scalars, and
so does the emulator. Scalars follow the model's type: numbers, booleans and strings as themselves, an
object link as ``"3:0"``, opaque bytes as base64 (or hex), and time as the string Soracom forwards in
its notification examples (``"Apr 24, 2018 7:28:17 AM"``, Java's default date format in UTC) or, with
``time_style="unix"``, as seconds. Both choices are unconfirmed for reads, hence ``ValueStyle``.

Writes go the other way: a JSON value (``PUT .../{resource}`` body) becomes the Python value of the
model's type, leniently (``"12"`` for an Integer, ``1`` for a Boolean), then ``coerce`` checks ranges.
Pure code, no I/O; errors are ``ValueError`` with a message naming the field.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from agent.core.errors import BadRequest, CodecError
from agent.core.model import ObjectLink, ObjectModel, ResourceModel, ResourceType, Value
from agent.core.path import Path
from agent.core.values import ResourceValue, coerce, group_by_resource

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_JAVA_DATE = re.compile(
    r"(?P<month>[A-Z][a-z]{2}) (?P<day>\d{1,2}), (?P<year>\d{4}) "
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2}):(?P<second>\d{2})\s(?P<half>AM|PM)"
)
_API_TYPES = {
    # The API's enum has no Unsigned Integer, Corelnk or none: the nearest JSON-visible kind stands in.
    ResourceType.STRING: "STRING",
    ResourceType.INTEGER: "INTEGER",
    ResourceType.UNSIGNED_INTEGER: "INTEGER",
    ResourceType.FLOAT: "FLOAT",
    ResourceType.BOOLEAN: "BOOLEAN",
    ResourceType.OPAQUE: "OPAQUE",
    ResourceType.TIME: "TIME",
    ResourceType.OBJLNK: "OBJLNK",
    ResourceType.CORELNK: "STRING",
}


@dataclass(frozen=True)
class ValueStyle:
    """How values the API cannot type natively are written in JSON (see the module docstring)."""

    opaque: Literal["base64", "hex"] = "base64"
    time_style: Literal["java", "unix"] = "java"


def java_date(seconds: int) -> str | None:
    """UNIX seconds in Java's default ``DateFormat`` for en_US, in UTC; None outside years 1..9999."""
    try:
        stamp = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    hour = stamp.hour % 12 or 12
    half = "AM" if stamp.hour < 12 else "PM"
    return (
        f"{_MONTHS[stamp.month - 1]} {stamp.day}, {stamp.year:04d} {hour}:{stamp.minute:02d}:"
        f"{stamp.second:02d} {half}"
    )


def parse_java_date(text: str) -> int | None:
    """The inverse of :func:`java_date`; None if ``text`` is not in that form."""
    match = _JAVA_DATE.fullmatch(text.strip())
    if match is None or match["month"] not in _MONTHS:
        return None
    hour = int(match["hour"])
    if not 1 <= hour <= 12:
        return None
    hour = hour % 12 + (12 if match["half"] == "PM" else 0)
    try:
        stamp = datetime(
            int(match["year"]),
            _MONTHS.index(match["month"]) + 1,
            int(match["day"]),
            hour,
            int(match["minute"]),
            int(match["second"]),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    return int(stamp.timestamp())


def render_value(value: Value, rtype: ResourceType | None, style: ValueStyle) -> Any:
    """One LwM2M value as a JSON value."""
    if isinstance(value, bool):
        return value
    if isinstance(value, ObjectLink):
        return str(value)
    if isinstance(value, bytes):
        return value.hex() if style.opaque == "hex" else base64.b64encode(value).decode()
    if isinstance(value, float):
        # JSON has no NaN or infinities; their names are what a reader would expect to see.
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, int) and rtype is ResourceType.TIME and style.time_style == "java":
        text = java_date(value)
        return value if text is None else text
    return value


def _integer(raw: Any, field: str) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"{field} must be an integer, not a boolean")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            pass
    raise ValueError(f"{field} must be an integer, not {raw!r:.40}")


def _time(raw: Any, field: str) -> int:
    if isinstance(raw, str) and not raw.strip().lstrip("-").isdigit():
        java = parse_java_date(raw)
        if java is not None:
            return java
        try:
            stamp = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{field} must be a time: UNIX seconds, ISO 8601 or 'Apr 24, 2018 7:28:17 AM', "
                f"not {raw!r:.40}"
            ) from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return int(stamp.timestamp())
    return _integer(raw, field)


def _boolean(raw: Any, field: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().lower() in ("true", "1", "false", "0"):
        return raw.strip().lower() in ("true", "1")
    raise ValueError(f"{field} must be a boolean (true or false), not {raw!r:.40}")


def _float(raw: Any, field: str) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"{field} must be a number, not a boolean")
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw.strip())
        except ValueError:
            pass
    raise ValueError(f"{field} must be a number, not {raw!r:.40}")


def _opaque(raw: Any, field: str, style: ValueStyle) -> bytes:
    if not isinstance(raw, str):
        raise ValueError(f"{field} must be a {style.opaque} string of the bytes, not {raw!r:.40}")
    try:
        if style.opaque == "hex":
            return bytes.fromhex(raw)
        return base64.b64decode(raw, validate=True)
    except (ValueError, binascii.Error):
        raise ValueError(f"{field} must be a {style.opaque} string of the bytes, not {raw!r:.40}") from None


def _text(raw: Any, field: str) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return str(raw)
    raise ValueError(f"{field} must be a string, not {raw!r:.40}")


def parse_value(raw: Any, rtype: ResourceType, style: ValueStyle, field: str = "value") -> Value:
    """A JSON value written to a resource of type ``rtype``; ValueError naming ``field`` if it does not
    fit."""
    value: Value
    if rtype in (ResourceType.STRING, ResourceType.CORELNK):
        value = _text(raw, field)
    elif rtype in (ResourceType.INTEGER, ResourceType.UNSIGNED_INTEGER):
        value = _integer(raw, field)
    elif rtype is ResourceType.TIME:
        value = _time(raw, field)
    elif rtype is ResourceType.FLOAT:
        value = _float(raw, field)
    elif rtype is ResourceType.BOOLEAN:
        value = _boolean(raw, field)
    elif rtype is ResourceType.OPAQUE:
        value = _opaque(raw, field, style)
    elif rtype is ResourceType.OBJLNK:
        if not isinstance(raw, str):
            raise ValueError(f"{field} must be an object link 'object:instance', not {raw!r:.40}")
        value = raw  # coerce, below, parses "object:instance" as every codec does
    else:
        raise ValueError(f"{field}: an executable resource has no value; execute it instead")
    try:
        return coerce(value, rtype, field)
    except CodecError as exc:
        raise ValueError(str(exc)) from None


def parse_resource_body(
    body: Mapping[str, Any], path: Path, model: ResourceModel, style: ValueStyle
) -> list[ResourceValue]:
    """The values of a write body (``{"value": x}``, or ``{"values": [...]}`` / ``{"values": {"id": x}}``
    for a multiple resource) for the resource at ``path``; ValueError naming the field on a mismatch."""
    if model.multiple:
        if "values" not in body:
            raise ValueError(
                f'resource {path} is a multiple resource: write {{"values": [...]}} instead of "value"'
            )
        raw = body["values"]
        items: Iterable[tuple[Any, Any]]
        if isinstance(raw, list):
            items = enumerate(raw)
        elif isinstance(raw, dict):
            items = raw.items()
        else:
            raise ValueError("values must be a list of values, or an object of resource instance id to value")
        values: list[ResourceValue] = []
        for key, item in items:
            try:
                instance_id = int(key)
                instance_path = path.child(instance_id)
            except (ValueError, BadRequest):
                raise ValueError(f"values: {key!r} is not a resource instance id 0..65535") from None
            values.append(
                ResourceValue(instance_path, parse_value(item, model.type, style, f"values[{key}]"))
            )
        return values
    if "value" not in body:
        if "values" in body:
            raise ValueError(f'resource {path} is a single resource: write {{"value": ...}}, not "values"')
        raise ValueError("field value is required")
    return [ResourceValue(path, parse_value(body["value"], model.type, style))]


def model_fields(model: ResourceModel) -> dict[str, Any]:
    """What ``?model=true`` adds to a ResourceInstance: the resource's model in the API's words."""
    fields: dict[str, Any] = {
        "name": model.name,
        "operations": model.operations.value or "NONE",
        "multiple": model.multiple,
        "mandatory": model.mandatory,
        "rangeEnumeration": model.range_enumeration,
        "units": model.units,
        "description": model.description,
    }
    api_type = _API_TYPES.get(model.type)
    if api_type is not None:
        fields["type"] = api_type
    return fields


def resource_content(
    values: list[ResourceValue], resource_path: Path, model: ResourceModel | None, style: ValueStyle
) -> dict[str, Any]:
    """``{"value": x}`` or ``{"values": {...}}`` for the values read from one resource."""
    rtype = model.type if model is not None else None
    multiple = (model is not None and model.multiple) or any(len(rv.path) == 4 for rv in values)
    if multiple:
        return {
            "values": {
                str(rv.path[3]): render_value(rv.value, rtype, style) for rv in values if len(rv.path) == 4
            }
        }
    for rv in values:
        if rv.path == resource_path:
            return {"value": render_value(rv.value, rtype, style)}
    return {}


def render_resource(
    resource_id: int,
    content: Mapping[str, Any],
    *,
    observed: bool,
    model: ResourceModel | None,
    with_model: bool,
) -> dict[str, Any]:
    """A ``ResourceInstance``: id, observed flag, the value(s), and the model when asked for and known."""
    rendered: dict[str, Any] = {"id": resource_id, "observed": observed, **content}
    if with_model and model is not None:
        rendered.update(model_fields(model))
    return rendered


def instance_contents(
    values: list[ResourceValue], instance_path: Path, model: ObjectModel | None, style: ValueStyle
) -> dict[int, dict[str, Any]]:
    """The ``value``/``values`` of each resource read from an object instance, by resource id."""
    contents: dict[int, dict[str, Any]] = {}
    for resource_path, members in group_by_resource(values).items():
        if resource_path[:2] != tuple(instance_path):
            continue
        resource_model = model.resources.get(resource_path[2]) if model is not None else None
        contents[resource_path[2]] = resource_content(members, resource_path, resource_model, style)
    return contents
