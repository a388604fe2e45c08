"""Values written in a profile (TOML) as the LwM2M values of the resources they are given to.

TOML has its own types; a resource has an LwM2M type. The rules, in one place: numbers convert as
``agent.core.values.coerce`` allows (an integer is a fine Float, 21.0 a fine Integer); a Time is a
TOML date-time with a zone (``2024-04-01T09:00:00+09:00``) or seconds since the epoch; Opaque is a
string, taken as UTF-8, or ``"base64:..."`` for arbitrary bytes; Objlnk is ``"3:0"``. A
multiple-instance resource takes a list (instances 0, 1, ...) or a table of instance id -> value.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import math

from ..core.errors import CodecError
from ..core.model import ResourceModel, ResourceType, Value
from ..core.values import coerce
from ..tree.binding import ResourceContent
from .errors import Where, toml_text

_EXAMPLES = {
    ResourceType.STRING: 'value = "text"',
    ResourceType.CORELNK: 'value = "</3/0>"',
    ResourceType.INTEGER: "value = 42",
    ResourceType.UNSIGNED_INTEGER: "value = 42",
    ResourceType.FLOAT: "value = 21.5",
    ResourceType.BOOLEAN: "value = true",
    ResourceType.OPAQUE: 'value = "text" or value = "base64:AAEC"',
    ResourceType.TIME: "value = 2024-04-01T09:00:00Z",
    ResourceType.OBJLNK: 'value = "3:0"',
}


def example(rtype: ResourceType) -> str:
    return _EXAMPLES.get(rtype, "a value")


def toml_to_value(raw: object, rtype: ResourceType, where: Where) -> Value:
    """One TOML value as a value of ``rtype``, or ProfileError at ``where``."""
    value: object = raw
    if rtype is ResourceType.NONE:
        raise where.error("an executable resource has no value", "bind it to an executable kind instead")
    if isinstance(raw, datetime.datetime):
        if rtype is not ResourceType.TIME:
            raise where.error(f"a date-time is not a {rtype.value}", f"give e.g. {example(rtype)}")
        if raw.tzinfo is None:
            raise where.error(f"{raw.isoformat()} has no time zone",
                              f"add one, e.g. {raw.isoformat()}Z for UTC or {raw.isoformat()}+09:00")
        value = int(raw.timestamp())
    elif isinstance(raw, (datetime.date, datetime.time)):
        raise where.error(f"{raw.isoformat()} is not a full date-time",
                          f"give a date-time with a zone, e.g. {example(ResourceType.TIME)}")
    elif isinstance(raw, (list, dict)):
        raise where.error(f"{type(raw).__name__} where one {rtype.value} was expected",
                          f"give one value, e.g. {example(rtype)}")
    elif rtype is ResourceType.OPAQUE and isinstance(raw, str):
        if raw.startswith("base64:"):
            try:
                value = base64.b64decode(raw[len("base64:"):], validate=True)
            except binascii.Error as exc:
                raise where.error(f"{toml_text(raw)} is not valid base64 ({exc})",
                                  'give "base64:" followed by base64 text, e.g. "base64:AAEC"') from None
        else:
            value = raw.encode()
    if isinstance(value, float) and not math.isfinite(value):
        raise where.error(f"{toml_text(raw)} is not a finite number", f"give e.g. {example(rtype)}")
    try:
        return coerce(value, rtype, where.field)  # type: ignore[arg-type]
    except CodecError:
        raise where.error(f"{toml_text(raw)} is not a {rtype.value}", f"give e.g. {example(rtype)}") from None


def toml_to_content(raw: object, model: ResourceModel, where: Where) -> ResourceContent:
    """A TOML value for the whole resource: one value, or instances for a multiple resource."""
    if not model.multiple:
        if isinstance(raw, (list, dict)):
            raise where.error(f"resource {model.id} {model.name} holds one value, not a {type(raw).__name__}",
                              f"give one value, e.g. {example(model.type)}")
        return toml_to_value(raw, model.type, where)
    if isinstance(raw, list):
        return {i: toml_to_value(item, model.type, where.at(i)) for i, item in enumerate(raw)}
    if isinstance(raw, dict):
        out: dict[int, Value] = {}
        for key, item in raw.items():
            if not key.isdigit() or int(key) > 65534:
                raise where.at(key).error(f"{key!r} is not a resource instance id",
                                          "use ids 0 to 65534 as keys, or give a list")
            out[int(key)] = toml_to_value(item, model.type, where.at(key))
        return out
    raise where.error(f"resource {model.id} {model.name} is a multiple-instance resource",
                      f"give a list of values, e.g. value = [{example(model.type).split(' = ')[-1]}]")
