"""What SenML and LwM2M JSON share: values named by path strings, in JSON-typed fields.

Both formats name each value by a base name plus a relative name, give each value one typed field
(number, string, boolean, base64 data, ``"3:0"`` object link) and leave the LwM2M type to the model
when JSON's own types are ambiguous. The two codecs differ only in field names and framing, so the
naming, the checks on a decoded value and the typing fix-up live here once.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence

from ...core.errors import BadRequest, CodecError
from ...core.model import ModelRegistry, ObjectLink, Value
from ...core.path import Path
from ...core.values import ResourceValue, coerce

# Ids are plain decimals: a leading zero is more likely a base name missing its slash ("/3/0" + "9").
_NAME = re.compile(r"/?((?:0|[1-9][0-9]{0,4})(?:/(?:0|[1-9][0-9]{0,4})){0,3})?/?")


def common_prefix(values: Sequence[ResourceValue]) -> int:
    """How many leading ids every value's path shares, leaving each path at least one id of its own."""
    first = values[0].path
    shared = len(first) - 1
    for rv in values:
        path = rv.path
        if path[:shared] == first[:shared] and len(path) > shared:
            continue
        limit = min(shared, len(path) - 1)
        i = 0
        while i < limit and path[i] == first[i]:
            i += 1
        shared = i
    return shared


def base_name(path: Sequence[int]) -> str:
    """``/3/0/`` for the ids ``(3, 0)``, ``/`` for none: a base name to which relative names append."""
    return "/" + "".join(f"{i}/" for i in path)


def check_under(base: Path, values: Sequence[ResourceValue], format_name: str) -> None:
    depth = len(base)
    for rv in values:
        if not 3 <= len(rv.path) <= 4 or rv.path[:depth] != base:
            raise CodecError(f"{format_name}: value path {rv.path} is not a resource under {base}")


def path_of_name(name: str, where: str) -> Path:
    """The path a resolved SenML/LwM2M JSON name denotes; CodecError naming ``where`` if none."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise CodecError(f"{where}: name {name[:80]!r} is not an LwM2M path")
    ids = match.group(1)
    try:
        return Path(*(int(i) for i in ids.split("/"))) if ids else Path()
    except BadRequest as exc:
        raise CodecError(f"{where}: name {name[:80]!r}: {exc.message}") from None


def check_value_path(path: Path, base: Path, where: str) -> None:
    """A decoded value must name a resource (or resource instance) under the request path."""
    if not 3 <= len(path) <= 4:
        raise CodecError(f"{where}: a value belongs to a resource or resource instance")
    if not path.startswith(base):
        raise CodecError(f"{where}: not under the request path {base}")


def value_field(fields: Mapping[str, object], names: Sequence[str], where: str, kind: str) -> str:
    """The one value field among ``names`` that a ``kind`` (entry, record) carries."""
    present = [f for f in names if f in fields]
    if len(present) != 1:
        raise CodecError(f"{where}: {kind} needs exactly one of {', '.join(names)}; has "
                         f"{', '.join(present) or 'none'}")
    return present[0]


def object_link_of(raw: object, where: str, field: str) -> ObjectLink:
    """The ``"object:instance"`` text of an object-link field as an :class:`ObjectLink`."""
    if not isinstance(raw, str):
        raise CodecError(f"{where}: {field} must be a string 'object:instance'")
    try:
        return ObjectLink.parse(raw)
    except ValueError as exc:
        raise CodecError(f"{where}: {exc}") from None


def decode_base64(text: str, where: str) -> bytes:
    """Base64 in either alphabet, padded or not: peers disagree, and the data is never ambiguous."""
    stripped = text.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CodecError(f"{where}: not base64 data ({exc})") from None


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fix_type(value: Value, path: Path, models: ModelRegistry, where: str) -> Value:
    """The value as its resource's Python type when the model is known (self-describing formats)."""
    model = models.resource(path)
    if model is None:
        return value
    return coerce(value, model.type, where)
