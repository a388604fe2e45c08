"""Resource values in transit: ``(path, value)`` pairs and conversions between LwM2M types.

Every codec decodes to and encodes from a flat list of :class:`ResourceValue` whose paths are
resources (single-instance) or resource instances (multiple-instance): the one shape SenML uses,
which every other format can be rebuilt from with the object model's help.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

from .errors import CodecError
from .model import ObjectLink, ResourceType, Value
from .path import Path


class ResourceValue(NamedTuple):
    path: Path
    value: Value


INTEGER_RANGE = (-(1 << 63), (1 << 63) - 1)
UNSIGNED_RANGE = (0, (1 << 64) - 1)


def coerce(value: Value, rtype: ResourceType, where: Path | str = "") -> Value:
    """Convert a decoded value to the Python type of ``rtype``, or raise CodecError.

    Self-describing formats carry numbers that may be ints for a Float resource and so on; this is
    the one place that rule lives, and the one place integer ranges (64-bit) are enforced.
    """
    result = _coerce(value, rtype, where)
    if isinstance(result, int) and not isinstance(result, bool):
        low, high = UNSIGNED_RANGE if rtype is ResourceType.UNSIGNED_INTEGER else INTEGER_RANGE
        if not low <= result <= high:
            raise CodecError(f"{where}: {str(result)[:30]} does not fit {rtype.value} in 64 bits ({low}..{high})")
    return result


def _coerce(value: Value, rtype: ResourceType, where: Path | str = "") -> Value:
    try:
        if rtype is ResourceType.STRING or rtype is ResourceType.CORELNK:
            if isinstance(value, str):
                return value
        elif rtype in (ResourceType.INTEGER, ResourceType.TIME):
            if isinstance(value, bool):
                pass
            elif isinstance(value, int):
                return value
            elif isinstance(value, float) and value.is_integer():
                return int(value)
        elif rtype is ResourceType.UNSIGNED_INTEGER:
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return value
            if isinstance(value, float) and value.is_integer() and value >= 0:
                return int(value)
        elif rtype is ResourceType.FLOAT:
            if isinstance(value, bool):
                pass
            elif isinstance(value, (int, float)):
                return float(value)
        elif rtype is ResourceType.BOOLEAN:
            if isinstance(value, bool):
                return value
        elif rtype is ResourceType.OPAQUE or rtype is ResourceType.NONE:
            if isinstance(value, (bytes, bytearray)):
                return bytes(value)
            if rtype is ResourceType.NONE and isinstance(value, str):
                return value.encode()
        elif rtype is ResourceType.OBJLNK:
            if isinstance(value, ObjectLink):
                return value
            if isinstance(value, str):
                return ObjectLink.parse(value)
    except ValueError as exc:
        raise CodecError(f"{where}: {exc}") from None
    raise CodecError(f"{where}: value {value!r} is not of type {rtype.value}")


def value_to_text(value: Value) -> str:
    """The text/plain form of a value (booleans as 0/1, floats without needless digits)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e16:
            return repr(value)
        return repr(value)
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode()
    return str(value)


def text_to_value(text: str, rtype: ResourceType, where: Path | str = "") -> Value:
    """Parse the text/plain form of a value of type ``rtype``."""
    try:
        if rtype in (ResourceType.STRING, ResourceType.CORELNK):
            return text
        if rtype in (ResourceType.INTEGER, ResourceType.TIME):
            return int(text.strip())
        if rtype is ResourceType.UNSIGNED_INTEGER:
            number = int(text.strip())
            if number < 0:
                raise ValueError("negative")
            return number
        if rtype is ResourceType.FLOAT:
            number_f = float(text.strip())
            return number_f
        if rtype is ResourceType.BOOLEAN:
            if text.strip() in ("1", "true"):
                return True
            if text.strip() in ("0", "false"):
                return False
            raise ValueError("not 0 or 1")
        if rtype is ResourceType.OBJLNK:
            return ObjectLink.parse(text.strip())
        if rtype in (ResourceType.OPAQUE, ResourceType.NONE):
            import base64
            import binascii

            try:
                return base64.b64decode(text, validate=True)
            except binascii.Error as exc:
                raise ValueError(str(exc)) from None
    except ValueError as exc:
        raise CodecError(f"{where}: {text[:40]!r} is not a valid {rtype.value} ({exc})") from None
    raise CodecError(f"{where}: cannot parse type {rtype.value} from text")


def group_by_resource(values: Iterable[ResourceValue]) -> dict[Path, list[ResourceValue]]:
    """Group values by their resource path (level 3), keeping order."""
    out: dict[Path, list[ResourceValue]] = {}
    for rv in values:
        out.setdefault(Path(*rv.path[:3]), []).append(rv)
    return out
