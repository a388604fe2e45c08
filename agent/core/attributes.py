"""Notification attributes: the pmin, pmax, gt, lt, st, epmin and epmax a server attaches to paths.

A server tunes when it is notified with Write-Attributes (``PUT /3303/0/5700?pmin=10&gt=25.5``,
LwM2M 1.0 §5.1.2 and §5.4.4, 1.1 §5.1.2). The attributes live per server at object, instance,
resource (and, in 1.1, resource-instance) level; a notification uses, for each attribute, the value
set at the most specific level, then the Server object's Default Minimum/Maximum Period. This module
parses the query, checks the rules the specification puts on it, keeps the attributes of one server
and resolves that inheritance; :mod:`agent.core.observation` turns the result into notifications.

What the specification says and is implemented here:

* An attribute written without a value (``pmax`` or ``pmax=``) is unset at that level.
* pmin, pmax, epmin, epmax go on objects, instances and resources; gt, lt, st only on resources
  (and resource instances, 1.1) whose type is numeric.
* ``lt + 2*st < gt`` must hold when lt and gt are both set (which implies ``lt < gt``); st is not
  negative. A request breaking either is refused with 4.00 and changes nothing.
* pmax smaller than pmin is not an error: the specification says pmax is then ignored, and since the
  two may come from different levels the check belongs to the observation, not to the write.
* ``cancel`` was a Write-Attributes parameter in drafts of 1.0; the approved 1.0 replaced it with
  CoAP's own cancellation (GET with Observe=1, or a Reset), so it is refused like any unknown name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .errors import BadRequest
from .model import ResourceType
from .path import Path

PERIOD_ATTRIBUTES = ("pmin", "pmax", "epmin", "epmax")
THRESHOLD_ATTRIBUTES = ("gt", "lt", "st")
# The order Discover prints them in.
ATTRIBUTE_NAMES = ("pmin", "pmax", "gt", "lt", "st", "epmin", "epmax")

# Periods are int32 seconds in every implementation we interoperate with (Anjay, Wakaama, Leshan's
# Server object resources); beyond that a value is certainly a mistake.
MAX_PERIOD = 2**31 - 1

NUMERIC_RESOURCE_TYPES = frozenset({ResourceType.INTEGER, ResourceType.UNSIGNED_INTEGER, ResourceType.FLOAT})

_READ_ONLY_ATTRIBUTES = {
    "dim": "the number of instances of a multiple resource",
    "ver": "the version of an object",
    "ssid": "a server's short id",
    "uri": "a server's URI",
    "lwm2m": "the LwM2M version",
}

_PERIOD_TEXT = re.compile(r"[0-9]+")
# The specification's ABNF is 1*DIGIT ["." 1*DIGIT]; servers written in Java print doubles as
# "1.0E-5", and OMA accepted negative thresholds (signal strength in dBm), so both are allowed.
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True, slots=True)
class NotificationAttributes:
    """A set of notification attributes; None means "not set" (at this level, or at all)."""

    pmin: int | None = None
    pmax: int | None = None
    gt: float | None = None
    lt: float | None = None
    st: float | None = None
    epmin: int | None = None
    epmax: int | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in ATTRIBUTE_NAMES)

    def items(self) -> Iterator[tuple[str, int | float]]:
        """The attributes that are set, in the order Discover prints them."""
        for name in ATTRIBUTE_NAMES:
            value = getattr(self, name)
            if value is not None:
                yield name, value

    def over(self, fallback: NotificationAttributes) -> NotificationAttributes:
        """These attributes, with each one that is not set taken from ``fallback``."""
        values: dict[str, Any] = {}
        for name in ATTRIBUTE_NAMES:
            mine = getattr(self, name)
            values[name] = mine if mine is not None else getattr(fallback, name)
        return NotificationAttributes(**values)

    @property
    def effective_pmax(self) -> int | None:
        """pmax as notifications use it: None when unset, 0, or smaller than pmin (then ignored)."""
        pmax = self.pmax
        if pmax is None or pmax <= 0 or pmax < (self.pmin or 0):
            return None
        return pmax

    @property
    def effective_epmax(self) -> int | None:
        """epmax as sampling uses it: None when unset, 0, or smaller than epmin (then ignored)."""
        epmax = self.epmax
        if epmax is None or epmax <= 0 or epmax < (self.epmin or 0):
            return None
        return epmax

    @property
    def has_thresholds(self) -> bool:
        """True when gt, lt or st is set, so that not every change of a number notifies."""
        return self.gt is not None or self.lt is not None or self.st is not None


@dataclass(frozen=True, slots=True)
class AttributeUpdate:
    """What one Write-Attributes request asks: attributes to set, and (value None) to unset."""

    changes: Mapping[str, int | float | None] = field(default_factory=dict)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.changes)

    def is_empty(self) -> bool:
        return not self.changes

    def sets_any(self, names: tuple[str, ...]) -> list[str]:
        """The attributes among ``names`` this update gives a value to, in ``names`` order."""
        return [name for name in names if self.changes.get(name) is not None]

    def apply_to(self, current: NotificationAttributes) -> NotificationAttributes:
        values: dict[str, Any] = {name: getattr(current, name) for name in ATTRIBUTE_NAMES}
        values.update(self.changes)
        return NotificationAttributes(**values)


def parse_query(query: list[str] | tuple[str, ...] | str) -> AttributeUpdate:
    """Parse the URI query of a Write-Attributes request.

    ``query`` is either the Uri-Query options as aiocoap gives them (``["pmin=10", "gt=25.5"]``) or
    one string (``"pmin=10&gt=25.5"``). Raises BadRequest, naming the attribute, for an unknown or
    read-only name, a value that is not a number of the right kind, a negative period or step, or an
    attribute given twice.
    """
    items = query.split("&") if isinstance(query, str) else list(query)
    changes: dict[str, int | float | None] = {}
    for item in items:
        if item == "":
            continue
        name, has_value, text = item.partition("=")
        _check_name(name)
        if name in changes:
            raise BadRequest(f"Write-Attributes: {name} is given twice")
        changes[name] = _parse_value(name, text) if has_value and text != "" else None
    return AttributeUpdate(changes)


def _check_name(name: str) -> None:
    if name in ATTRIBUTE_NAMES:
        return
    if name in _READ_ONLY_ATTRIBUTES:
        raise BadRequest(
            f"Write-Attributes: {name} ({_READ_ONLY_ATTRIBUTES[name]}) is read-only and cannot be written"
        )
    if name == "cancel":
        raise BadRequest(
            "Write-Attributes: cancel is not an attribute in LwM2M 1.0 and later; "
            "cancel an observation with GET and Observe=1, or answer a notification with Reset"
        )
    raise BadRequest(
        f"Write-Attributes: unknown attribute {name!r}; expected one of {', '.join(ATTRIBUTE_NAMES)}"
    )


def _parse_value(name: str, text: str) -> int | float:
    if name in PERIOD_ATTRIBUTES:
        if not _PERIOD_TEXT.fullmatch(text):
            raise BadRequest(
                f"Write-Attributes: {name}={text!r} is not a period (a whole, non-negative number of seconds)"
            )
        if len(text) > 10 or int(text) > MAX_PERIOD:
            raise BadRequest(f"Write-Attributes: {name}={text} is out of range 0..{MAX_PERIOD} seconds")
        return int(text)
    if not _NUMBER_TEXT.fullmatch(text):
        raise BadRequest(f"Write-Attributes: {name}={text!r} is not a number")
    number = float(text)
    if not math.isfinite(number):
        raise BadRequest(f"Write-Attributes: {name}={text} is out of range")
    if name == "st" and number < 0:
        raise BadRequest(f"Write-Attributes: st={text} is negative; a step is a distance, at least 0")
    return number + 0.0  # -0.0 and 0.0 are the same threshold; keep one spelling


def format_attribute_value(value: int | float) -> str:
    """Print a value as Discover shows it: ``10``, ``25.5``, ``30`` (not ``30.0``), no exponent."""
    if isinstance(value, int):
        return str(value)
    text = format(Decimal(repr(value + 0.0)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def is_numeric_type(resource_type: ResourceType) -> bool:
    """True for the resource types gt, lt and st may be attached to."""
    return resource_type in NUMERIC_RESOURCE_TYPES


class AttributeStore:
    """The notification attributes one server has written, by path, with the inheritance rule.

    Keep one store per server (attributes are per server: LwM2M 1.0 §5.1.1); drop it when the
    server's registration ends.
    """

    def __init__(self) -> None:
        self._attached: dict[tuple[int, ...], NotificationAttributes] = {}

    def apply(
        self, path: Path, update: AttributeUpdate, resource_type: ResourceType | None = None
    ) -> NotificationAttributes:
        """Merge a Write-Attributes request into the attributes of ``path``; return the result.

        ``resource_type`` is the type of the resource ``path`` names (levels 3 and 4); when given,
        gt, lt and st are refused on a non-numeric resource. On BadRequest nothing changes.
        """
        _check_level(path, update, resource_type)
        merged = update.apply_to(self.get(path))
        _check_thresholds(path, merged)
        key = tuple(path)
        if merged.is_empty():
            self._attached.pop(key, None)
        else:
            self._attached[key] = merged
        return merged

    def get(self, path: Path) -> NotificationAttributes:
        """The attributes attached at exactly this path (empty if none)."""
        return self._attached.get(tuple(path), _EMPTY)

    def effective(self, path: Path, defaults: NotificationAttributes) -> NotificationAttributes:
        """The attributes an observation of ``path`` uses.

        Each attribute comes from the most specific level where it is set: resource instance, then
        resource, instance, object, then ``defaults`` (the Server object's Default Minimum Period
        /1/x/2 and Default Maximum Period /1/x/3, which the caller reads).
        """
        result = _EMPTY
        for depth in range(len(path), 0, -1):
            attached = self._attached.get(tuple(path[:depth]))
            if attached is not None:
                result = result.over(attached)
        return result.over(defaults)

    def discover_attributes(self, path: Path, *, inherited: bool = False) -> dict[str, str]:
        """The attributes Discover prints for ``path``, as ``{"pmin": "10", "gt": "25.5"}``.

        By default only those attached at exactly that level. With ``inherited`` the ones set at
        the levels above are included too (but not the Server object's defaults), which is how
        LwM2M 1.0's examples show the target of a Discover itself.
        """
        attributes = self.effective(path, _EMPTY) if inherited else self.get(path)
        return {name: format_attribute_value(value) for name, value in attributes.items()}

    def attach(self, path: Path, attributes: NotificationAttributes) -> None:
        """Put back attributes a server wrote before a restart (already checked when it wrote them)."""
        if attributes.is_empty():
            self._attached.pop(tuple(path), None)
        else:
            self._attached[tuple(path)] = attributes

    def forget(self, path: Path) -> None:
        """Drop the attributes of ``path`` and everything under it (after a Delete)."""
        prefix = tuple(path)
        for key in [k for k in self._attached if k[: len(prefix)] == prefix]:
            del self._attached[key]

    def paths(self) -> list[Path]:
        """The paths that have attributes attached, in path order."""
        return [Path(*key) for key in sorted(self._attached)]


_EMPTY = NotificationAttributes()


def _check_level(path: Path, update: AttributeUpdate, resource_type: ResourceType | None) -> None:
    if len(path) == 0:
        raise BadRequest("Write-Attributes needs an object, instance or resource path, not the root")
    thresholds = update.sets_any(THRESHOLD_ATTRIBUTES)
    if not thresholds:
        return
    names = ", ".join(thresholds)
    if len(path) < 3:
        raise BadRequest(f"Write-Attributes: {names} can only be set on a resource, not on {path}")
    if resource_type is not None and not is_numeric_type(resource_type):
        raise BadRequest(
            f"Write-Attributes: {names} apply to numeric resources only; {path} is {resource_type.value}"
        )


def _check_thresholds(path: Path, attributes: NotificationAttributes) -> None:
    lt, gt = attributes.lt, attributes.gt
    if lt is None or gt is None:
        return
    st = attributes.st or 0.0
    if lt + 2 * st < gt:
        return
    lt_text, gt_text = format_attribute_value(lt), format_attribute_value(gt)
    if st == 0.0:
        raise BadRequest(f"Write-Attributes on {path}: lt ({lt_text}) must be less than gt ({gt_text})")
    raise BadRequest(
        f"Write-Attributes on {path}: lt + 2*st ({lt_text} + 2*{format_attribute_value(st)}) "
        f"must be less than gt ({gt_text})"
    )
