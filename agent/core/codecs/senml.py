"""SenML JSON (110) and SenML CBOR (112): LwM2M 1.1 §7.4.4/§7.4.5 over RFC 8428.

SenML is the LwM2M 1.1 format that can carry values from several objects at once, so Send,
Read-Composite and Observe-Composite use it, and it is self-describing: numbers, strings,
booleans, opaque data (``vd``) and object links (``vlo``) each have their own field. A record's
name is its path: the running base name ``bn`` joined with ``n``.

Encoding is compact: the first record carries the base name shared by all paths, the others only
the rest of their path. No model is needed to encode (values already have their Python type);
decoding uses the model, when there is one, to turn a SenML number into the resource's int or
float, or an ``"3:0"`` string into an :class:`~agent.core.model.ObjectLink`.

The same module reads the body of a Read-Composite or Observe-Composite request, a pack of names
without values: :func:`decode_paths`.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Sequence
from typing import Any

import cbor2

from ...core.errors import CodecError
from ...core.formats import ContentFormat
from ...core.model import ModelRegistry, ObjectLink, Value
from ...core.path import Path
from ...core.values import ResourceValue
from . import register
from ._named_values import (
    base_name,
    check_under,
    check_value_path,
    common_prefix,
    decode_base64,
    fix_type,
    is_number,
    object_link_of,
    path_of_name,
    value_field,
)

# RFC 8428 §6 CBOR labels; LwM2M's object-link field has no label and stays the text key "vlo".
CBOR_LABELS: dict[int, str] = {
    -1: "bver", -2: "bn", -3: "bt", -4: "bu", -5: "bv", -6: "bs",
    0: "n", 1: "u", 2: "v", 3: "vs", 4: "vb", 5: "s", 6: "t", 7: "ut", 8: "vd",
}
_LABEL_OF = {name: label for label, name in CBOR_LABELS.items()}
_BN, _N, _V, _VS, _VB, _VD = (_LABEL_OF[k] for k in ("bn", "n", "v", "vs", "vb", "vd"))

VALUE_FIELDS = ("v", "vs", "vb", "vd", "vlo")
_NUMBER_FIELDS = ("bt", "t", "bv", "ut", "bver")
_TEXT_FIELDS = ("bn", "n", "bu", "u")

def relative_name(path: Path, start: int) -> str:
    if len(path) - start == 1:
        return str(path[start])
    return "/".join(str(i) for i in path[start:])


# ---- encoding --------------------------------------------------------------------------------

_JSON_KEYS: dict[type, str] = {float: "v", int: "v", str: "vs", bool: "vb", bytes: "vd", ObjectLink: "vlo"}
_CBOR_KEYS: dict[type, int | str] = {float: _V, int: _V, str: _VS, bool: _VB, bytes: _VD, ObjectLink: "vlo"}
# Types whose Python value is already the SenML field value (no base64, no "3:0" text).
_CBOR_PLAIN: dict[type, int] = {float: _V, int: _V, str: _VS, bool: _VB, bytes: _VD}
_JSON_PLAIN: dict[type, str] = {float: "v", int: "v", str: "vs", bool: "vb"}


def _records(base: Path, values: Sequence[ResourceValue], binary: bool) -> list[dict[Any, Any]]:
    """The SenML records of ``values``: label keys and raw bytes for CBOR, text keys for JSON.

    This is the hot path of notifications and Send, hence one set comprehension to check the paths
    and find the shared base name, and one list comprehension for the common case of values that
    all sit in one instance (or one multiple resource) and need no conversion.
    """
    if not values:
        return []
    parents = {rv.path[:-1] for rv in values}
    depth = len(base)
    if depth > 2:
        check_under(base, values, "SenML")
    else:
        for parent in parents:
            if not 2 <= len(parent) <= 3 or parent[:depth] != base:
                bad = next(rv.path for rv in values if rv.path[:-1] == parent)
                raise CodecError(f"SenML: value path {bad} is not a resource under {base}")
    if len(parents) == 1:
        shared = len(values[0].path) - 1
        plain = _CBOR_PLAIN if binary else _JSON_PLAIN
        n_key: Any = _N if binary else "n"
        try:
            records = [{n_key: str(path[-1]), plain[type(value)]: value} for path, value in values]
        except KeyError:
            records = _general_records(values, shared, binary)
    else:
        shared = common_prefix(values)
        records = _general_records(values, shared, binary)
    records[0] = {(_BN if binary else "bn"): base_name(values[0].path[:shared]), **records[0]}
    return records


def _general_records(values: Sequence[ResourceValue], shared: int, binary: bool) -> list[dict[Any, Any]]:
    n_key: Any = _N if binary else "n"
    keys: dict[type, Any] = _CBOR_KEYS if binary else _JSON_KEYS
    records: list[dict[Any, Any]] = []
    for rv in values:
        path = rv.path
        value: Any = rv.value
        kind: type = type(value)
        key = keys.get(kind)
        if key is None:
            # Subclasses (an IntEnum, a str subclass) encode as their base type.
            base_kind = next((k for k in (bool, int, float, str, bytes) if isinstance(value, k)), None)
            if base_kind is None:
                raise CodecError(f"SenML: cannot encode a {type(value).__name__} at {path}")
            kind, key, value = base_kind, keys[base_kind], base_kind(value)
        if kind is ObjectLink:
            value = f"{value[0]}:{value[1]}"
        elif kind is bytes and not binary:
            value = base64.urlsafe_b64encode(value).rstrip(b"=").decode()
        records.append({n_key: relative_name(path, shared), key: value})
    return records


class SenmlJsonCodec:
    content_format = ContentFormat.SENML_JSON

    def encode(self, base: Path, values: Sequence[ResourceValue], models: ModelRegistry) -> bytes:
        records = _records(base, values, binary=False)
        try:
            return json.dumps(records, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        except ValueError:
            bad = next((rv.path for rv in values
                        if isinstance(rv.value, float) and not math.isfinite(rv.value)), base)
            raise CodecError(f"SenML JSON cannot carry the non-finite number at {bad}") from None

    def decode(self, payload: bytes, base: Path, models: ModelRegistry) -> list[ResourceValue]:
        return _decode_values(_load_json(payload), base, models, binary=False)

    def decode_paths(self, payload: bytes) -> list[Path]:
        return _decode_names(_load_json(payload))


class SenmlCborCodec:
    content_format = ContentFormat.SENML_CBOR

    def encode(self, base: Path, values: Sequence[ResourceValue], models: ModelRegistry) -> bytes:
        return cbor2.dumps(_records(base, values, binary=True))

    def decode(self, payload: bytes, base: Path, models: ModelRegistry) -> list[ResourceValue]:
        return _decode_values(_load_cbor(payload), base, models, binary=True)

    def decode_paths(self, payload: bytes) -> list[Path]:
        return _decode_names(_load_cbor(payload))


def decode_paths(payload: bytes, content_format: int = ContentFormat.SENML_JSON) -> list[Path]:
    """The paths named by a Read-Composite / Observe-Composite request body (SenML JSON or CBOR).

    Records need only a name (``bn`` and/or ``n``); any value they carry is ignored. A path may
    be of any level, root included.
    """
    if content_format == ContentFormat.SENML_JSON:
        return SENML_JSON.decode_paths(payload)
    if content_format == ContentFormat.SENML_CBOR:
        return SENML_CBOR.decode_paths(payload)
    raise CodecError(f"a list of paths comes as SenML JSON (110) or SenML CBOR (112), not {content_format}")


def encode_paths(paths: Sequence[Path], content_format: int = ContentFormat.SENML_JSON) -> bytes:
    """A Read-Composite / Observe-Composite request body: one record per path, names only."""
    if content_format == ContentFormat.SENML_JSON:
        return json.dumps([{"n": str(p) if p else "/"} for p in paths], separators=(",", ":")).encode()
    if content_format == ContentFormat.SENML_CBOR:
        return cbor2.dumps([{0: str(p) if p else "/"} for p in paths])
    raise CodecError(f"a list of paths comes as SenML JSON (110) or SenML CBOR (112), not {content_format}")


# ---- decoding --------------------------------------------------------------------------------

def _load_json(payload: bytes) -> list[Any]:
    try:
        pack = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise CodecError(f"SenML JSON: not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(pack, list):
        raise CodecError(f"SenML JSON: a pack is a JSON array of records, not a {type(pack).__name__}")
    return pack


def _load_cbor(payload: bytes) -> list[Any]:
    stream = io.BytesIO(payload)
    try:
        pack = cbor2.CBORDecoder(stream).decode()
    except Exception as exc:  # cbor2 reports bad input through several exception types
        raise CodecError(f"SenML CBOR: not valid CBOR ({str(exc)[:120]})") from None
    if stream.tell() != len(payload):
        raise CodecError(f"SenML CBOR: {len(payload) - stream.tell()} stray bytes after the pack "
                         f"at offset {stream.tell()}")
    if not isinstance(pack, list):
        raise CodecError(f"SenML CBOR: a pack is a CBOR array of records, not a {type(pack).__name__}")
    return pack


def _fields(record: object, index: int) -> dict[str, Any]:
    """A record's fields by their JSON names, checked for the types RFC 8428 gives them."""
    where = f"SenML record {index}"
    if not isinstance(record, dict):
        raise CodecError(f"{where}: a record is a map, not a {type(record).__name__}")
    fields: dict[str, Any] = {}
    for key, value in record.items():
        if type(key) is int:
            name = CBOR_LABELS.get(key)
            if name is None:
                continue
        elif type(key) is str:
            name = key
        else:
            raise CodecError(f"{where}: field key {key!r} is neither a label nor a name")
        if name.endswith("_"):
            raise CodecError(f"{where}: must-understand field {name!r} is not supported")
        fields[name] = value
    for name in _TEXT_FIELDS:
        if name in fields and not isinstance(fields[name], str):
            raise CodecError(f"{where}: field {name!r} must be a string")
    for name in _NUMBER_FIELDS:
        if name in fields and not is_number(fields[name]):
            raise CodecError(f"{where}: field {name!r} must be a number")
    return fields


def _resolve(records: list[Any]) -> list[tuple[int, Path, dict[str, Any]]]:
    """Each record's index, resolved path and fields, following base-name changes through the pack."""
    out: list[tuple[int, Path, dict[str, Any]]] = []
    current_base = ""
    for index, record in enumerate(records):
        fields = _fields(record, index)
        if "bn" in fields:
            current_base = fields["bn"]
        name = current_base + fields.get("n", "")
        if not name:
            raise CodecError(f"SenML record {index}: no name (neither bn nor n)")
        out.append((index, path_of_name(name, f"SenML record {index}"), fields))
    return out


def _decode_names(records: list[Any]) -> list[Path]:
    return [path for _, path, _ in _resolve(records)]


def _decode_values(records: list[Any], base: Path, models: ModelRegistry,
                   binary: bool) -> list[ResourceValue]:
    out: list[ResourceValue] = []
    base_value: float | int = 0
    for index, path, fields in _resolve(records):
        where = f"SenML record {index} ({path})"
        if "bv" in fields:
            base_value = fields["bv"]
        check_value_path(path, base, where)
        field = value_field(fields, VALUE_FIELDS, where, "a record")
        raw = fields[field]
        value: Value
        if field == "v":
            if not is_number(raw):
                raise CodecError(f"{where}: v must be a number")
            value = base_value + raw if base_value else raw
        elif field == "vb":
            if not isinstance(raw, bool):
                raise CodecError(f"{where}: vb must be a boolean")
            value = raw
        elif field == "vd":
            if binary and isinstance(raw, bytes):
                value = raw
            elif not binary and isinstance(raw, str):
                value = decode_base64(raw, where)
            else:
                raise CodecError(f"{where}: vd must be a {'byte string' if binary else 'base64url string'}")
        elif field == "vlo":
            value = object_link_of(raw, where, "vlo")
        else:
            if not isinstance(raw, str):
                raise CodecError(f"{where}: vs must be a string")
            value = raw
        out.append(ResourceValue(path, fix_type(value, path, models, where)))
    return out


SENML_JSON = SenmlJsonCodec()
SENML_CBOR = SenmlCborCodec()
register(SENML_JSON)
register(SENML_CBOR)
