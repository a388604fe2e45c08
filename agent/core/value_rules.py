"""What a server may write: the object model's ranges and the specification's rules on values.

A value that has the right type can still be wrong: a lifetime of -1 makes every later Update fail,
a pmin above pmax cannot be honoured, a binding letter the agent does not know cannot be obeyed.
Writes are checked here before anything changes, and a bad value is a 4.00 naming the resource.

Rules come from two places:

* The model's ``RangeEnumeration`` when it is a range this module can read: ``0..100``, ``1-65535``
  (a numeric range for numeric resources), ``0-255 bytes`` (a length range for strings and opaque
  values). Free text ("listed in 5.3.1.1") and lists of sizes are not rules and are left alone.
* Without a range, the model's ``Units``: ``%`` is 0..100, ``lat``/``lon`` are coordinates, and
  durations (``s``, ``ms``, ``min``, ``h``, ``d``) and sizes (``B``, ``KB``, ``MB``) are never negative.
* The LwM2M specification for the Server object (1): Lifetime (1/x/1) >= 1 s, default pmin (2) and
  pmax (3) >= 0 with pmin <= pmax when pmax is set (non-zero), Binding (7) made of the binding
  letters of LwM2M 1.1 §6.2.1.1 (U, M, H, T, S, N and Q), each at most once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .errors import BadRequest
from .model import ResourceModel, ResourceType
from .path import Path

BINDING_LETTERS = "UMHTSNQ"

_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:\.\.|-|to)\s*(-?\d+(?:\.\d+)?)\s*(bytes?)?\s*$", re.IGNORECASE)
_NUMERIC = (ResourceType.INTEGER, ResourceType.UNSIGNED_INTEGER, ResourceType.FLOAT, ResourceType.TIME)


@dataclass(frozen=True, slots=True)
class Range:
    low: float
    high: float
    of_length: bool

    def __str__(self) -> str:
        text = f"{_number(self.low)}..{_number(self.high)}"
        return f"{text} bytes" if self.of_length else text


def _number(x: float) -> str:
    if x == float("inf"):
        return ""
    return str(int(x)) if x == int(x) else str(x)


def parse_range(text: str) -> Range | None:
    """The range a ``RangeEnumeration`` states, or None when it states none this module can read."""
    found = _RANGE.match(text)
    if found is None:
        return None
    low, high = float(found.group(1)), float(found.group(2))
    if low > high:
        return None
    return Range(low, high, of_length=found.group(3) is not None)


def check_value(path: Path, model: ResourceModel, value: object) -> None:
    """Raise BadRequest when ``value`` (already of the resource's type) breaks a rule for ``path``."""
    rule = _SPEC_RULES.get((path[0], path[2])) if len(path) >= 3 else None
    if rule is not None:
        rule(path, value)
    limits = parse_range(model.range_enumeration) or _UNIT_RANGES.get(model.units.strip())
    if limits is None:
        return
    if limits.of_length:
        if isinstance(value, (str, bytes)):
            size = len(value.encode() if isinstance(value, str) else value)
            if not limits.low <= size <= limits.high:
                raise BadRequest(f"{path}: {size} bytes is outside {limits}")
        return
    numeric = model.type in _NUMERIC and isinstance(value, (int, float)) and not isinstance(value, bool)
    if numeric and not limits.low <= value <= limits.high:  # type: ignore[operator]
        raise BadRequest(f"{path}: {value} is outside the range {limits} of {model.name}")


_INFINITY = float("inf")
# What a unit says of a value when the model gives no range: a share, a coordinate, an amount of
# time or data is never below zero (LwM2M's Time type, a point in time, has no unit).
_UNIT_RANGES: dict[str, Range] = {
    "%": Range(0, 100, of_length=False),
    "lat": Range(-90, 90, of_length=False),
    "lon": Range(-180, 180, of_length=False),
    **{unit: Range(0, _INFINITY, of_length=False) for unit in ("s", "ms", "min", "h", "d", "B", "KB", "MB")},
}


def check_instance(object_id: int, values: Mapping[int, object], where: Path) -> None:
    """Rules between resources of one instance, over its values after the write."""
    if object_id == 1:
        pmin, pmax = values.get(2), values.get(3)
        if isinstance(pmin, int) and isinstance(pmax, int) and pmax > 0 and pmin > pmax:
            raise BadRequest(f"{where}: default pmin {pmin} is greater than default pmax {pmax}")


def instance_rule_resources(object_id: int) -> tuple[int, ...]:
    """The resources :func:`check_instance` looks at for ``object_id`` (to read the current ones)."""
    return (2, 3) if object_id == 1 else ()


def check_binding(binding: str) -> None:
    """LwM2M 1.1 §6.2.1.1 binding letters, each at most once (1.0's ``UQS`` style is a subset)."""
    if not binding:
        raise BadRequest("binding must name at least one transport (e.g. U)")
    unknown = sorted({c for c in binding if c not in BINDING_LETTERS})
    if unknown:
        raise BadRequest(f"binding {binding!r}: unknown letter(s) {''.join(unknown)}; known: {BINDING_LETTERS}")
    if len(set(binding)) != len(binding):
        raise BadRequest(f"binding {binding!r} repeats a letter")


def _lifetime(path: Path, value: object) -> None:
    if not isinstance(value, int) or value < 1:
        raise BadRequest(f"{path}: lifetime must be at least 1 second, not {value}")


def _period(path: Path, value: object) -> None:
    if not isinstance(value, int) or value < 0:
        raise BadRequest(f"{path}: a period in seconds cannot be {value}")


def _binding(path: Path, value: object) -> None:
    if not isinstance(value, str):
        raise BadRequest(f"{path}: binding must be a string")
    try:
        check_binding(value)
    except BadRequest as exc:
        raise BadRequest(f"{path}: {exc.message}") from None


_SPEC_RULES: dict[tuple[int, int], Callable[[Path, object], None]] = {
    (1, 1): _lifetime,
    (1, 2): _period,
    (1, 3): _period,
    (1, 7): _binding,
}
