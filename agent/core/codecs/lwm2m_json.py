"""LwM2M JSON (content format 11543, legacy 1543): the LwM2M 1.0 JSON format (§6.4.4).

The 1.0 predecessor of SenML JSON, still announced by 1.0 servers (Soracom's registration example
lists ``ct=11543``): ``{"bn":"/3/0/","e":[{"n":"0","sv":"Open"},{"n":"7/0","v":3800}]}``, with
``v`` (number), ``sv`` (string; Opaque as base64), ``bv`` (boolean) and ``ov`` (object link
``"3:0"``), plus the timestamps ``bt``/``t`` that the flat value shape does not keep.

JSON numbers and strings are ambiguous for LwM2M (is ``3`` an Integer or a Float? is ``"AAE="`` a
String or base64 Opaque?), so decoding settles the type with the object model when it knows the
resource, and keeps what JSON says otherwise.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from typing import Any

from ...core.errors import CodecError
from ...core.formats import ContentFormat
from ...core.model import ModelRegistry, ObjectLink, ResourceType, Value
from ...core.path import Path
from ...core.values import ResourceValue
from . import _named_values as named
from . import register

_VALUE_FIELDS = ("v", "sv", "bv", "ov")


class Lwm2mJsonCodec:
    content_format = ContentFormat.LWM2M_JSON

    def encode(self, base: Path, values: Sequence[ResourceValue], models: ModelRegistry) -> bytes:
        named.check_under(base, values, "LwM2M JSON")
        shared = named.common_prefix(values) if values else len(base)
        entries: list[dict[str, Any]] = []
        for rv in values:
            entry: dict[str, Any] = {"n": "/".join(str(i) for i in rv.path[shared:])}
            value = rv.value
            if isinstance(value, bool):
                entry["bv"] = value
            elif isinstance(value, int):
                entry["v"] = value
            elif isinstance(value, float):
                if not math.isfinite(value):
                    raise CodecError(f"LwM2M JSON cannot carry the non-finite number at {rv.path}")
                entry["v"] = value
            elif isinstance(value, str):
                entry["sv"] = value
            elif isinstance(value, ObjectLink):
                entry["ov"] = str(value)
            elif isinstance(value, bytes):
                entry["sv"] = base64.b64encode(value).decode()
            else:
                raise CodecError(f"LwM2M JSON: cannot encode a {type(value).__name__} at {rv.path}")
            entries.append(entry)
        document = {"bn": named.base_name(values[0].path[:shared] if values else base), "e": entries}
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()

    def decode(self, payload: bytes, base: Path, models: ModelRegistry) -> list[ResourceValue]:
        try:
            document = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise CodecError(f"LwM2M JSON: not valid JSON ({str(exc)[:120]})") from None
        if not isinstance(document, dict) or not isinstance(document.get("e"), list):
            raise CodecError('LwM2M JSON: expected an object with an "e" array of entries')
        bn = document.get("bn")
        if bn is not None and not isinstance(bn, str):
            raise CodecError('LwM2M JSON: "bn" must be a string')
        if "bt" in document and not named.is_number(document["bt"]):
            raise CodecError('LwM2M JSON: "bt" must be a number')
        out: list[ResourceValue] = []
        for index, entry in enumerate(document["e"]):
            out.append(_decode_entry(entry, index, bn, base, models))
        return out


def _decode_entry(entry: object, index: int, bn: str | None, base: Path,
                  models: ModelRegistry) -> ResourceValue:
    where = f"LwM2M JSON entry {index}"
    if not isinstance(entry, dict):
        raise CodecError(f"{where}: an entry is an object, not a {type(entry).__name__}")
    name = entry.get("n", "")
    if not isinstance(name, str):
        raise CodecError(f'{where}: "n" must be a string')
    if "t" in entry and not named.is_number(entry["t"]):
        raise CodecError(f'{where}: "t" must be a number')
    # Without a base name, relative names hang off the request path.
    full = bn + name if bn is not None else name if name.startswith("/") else named.base_name(base) + name
    path = named.path_of_name(full, where)
    where = f"{where} ({path})"
    named.check_value_path(path, base, where)
    field = named.value_field(entry, _VALUE_FIELDS, where, "an entry")
    raw = entry[field]
    value: Value
    if field == "v":
        if not named.is_number(raw):
            raise CodecError(f'{where}: "v" must be a number')
        value = raw
    elif field == "bv":
        if not isinstance(raw, bool):
            raise CodecError(f'{where}: "bv" must be true or false')
        value = raw
    elif field == "ov":
        value = named.object_link_of(raw, where, '"ov"')
    else:
        if not isinstance(raw, str):
            raise CodecError(f'{where}: "sv" must be a string')
        model = models.resource(path)
        opaque = model is not None and model.type is ResourceType.OPAQUE
        value = named.decode_base64(raw, where) if opaque else raw
    return ResourceValue(path, named.fix_type(value, path, models, where))


LWM2M_JSON = Lwm2mJsonCodec()
register(LWM2M_JSON, ContentFormat.LEGACY_JSON)
