"""The ``[sigfox]`` table of a profile: which resources go into the 12-byte uplink, and how.

A Sigfox uplink carries at most 12 bytes, so each value is packed in a fixed binary form that
Soracom's binary parser decodes on the cloud side. Fields are written in the parser's own entry
syntax without the name, which comes from ``name``, so the profile and the console setting read alike::

    [sigfox]
    port = "sim:sigfox"
    interval = 900
    fields = [
      { path = "/3303/0/5700", format = "int:16:/100", name = "temp" },
      { path = "/3304/0/5700", format = "uint:8" },
    ]

The syntax and the layout are :mod:`agent.telemetry.sigfox_spec` and :mod:`agent.telemetry.sigfox_frame`,
the very code that packs the frames: a profile that loads is a frame that packs. This module only
adds what a profile knows and the frame does not: which resource types each field type can carry, the
default name (``r3303_0_5700``), and the file, line and key of every mistake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.model import ResourceType
from ..core.path import Path
from ..hardware.errors import HardwareConfigError
from ..telemetry.sigfox_downlink import downlink_handler
from ..telemetry.sigfox_frame import PlacedField, SigfoxField, frame_length, layout
from ..telemetry.sigfox_modem import SigfoxModem
from ..telemetry.sigfox_spec import parse_field_format, parser_format
from ..telemetry.sigfox_uplinks import DAILY_DOWNLINKS, DAILY_UPLINKS, SigfoxUplinks
from ..tree import ObjectTree
from .errors import ProfileError, Where

if TYPE_CHECKING:
    from ..telemetry.queue import TelemetryQueue

__all__ = ["MIN_SENSIBLE_INTERVAL", "SigfoxField", "SigfoxProfile", "default_field_name", "profile_field"]

# The contract's daily uplinks, evenly spread: a shorter interval runs out of uplinks before the day ends.
MIN_SENSIBLE_INTERVAL = 86400 / DAILY_UPLINKS

_NUMBERS = (ResourceType.INTEGER, ResourceType.UNSIGNED_INTEGER, ResourceType.FLOAT, ResourceType.TIME,
            ResourceType.BOOLEAN)
# Which resource types a field type carries without losing what the value means.
_CARRIES: dict[str, tuple[ResourceType, ...]] = {
    "bool": (ResourceType.BOOLEAN,),
    "char": (ResourceType.STRING, ResourceType.OPAQUE),
    "int": _NUMBERS, "uint": _NUMBERS, "float": _NUMBERS,
}


@dataclass(frozen=True)
class SigfoxProfile:
    """The ``[sigfox]`` table: the modem's port, the uplink interval, and the frame's fields in order."""

    port: str
    interval: float
    fields: tuple[SigfoxField, ...]
    downlink_every: int = 0  # ask for a downlink with every Nth uplink (0: never)
    downlink: tuple[SigfoxField, ...] = ()  # the 8 downlink bytes, unpacked and written to these resources
    downlink_execute: Path | None = None  # executed with the downlink's 16 hex digits as argument
    daily_uplinks: int = DAILY_UPLINKS
    daily_downlinks: int = DAILY_DOWNLINKS

    def telemetry_fields(self) -> list[SigfoxField]:
        """The fields as :class:`agent.telemetry.sigfox.SigfoxUplinks` packs them."""
        return list(self.fields)

    def layout(self) -> list[PlacedField]:
        """Where each field sits in the frame (byte, bit)."""
        return layout(self.fields)

    @property
    def frame_length(self) -> int:
        return frame_length(self.fields)

    def parser_format(self) -> str:
        """The binary parser format for the Soracom console, e.g. ``temp:0:int:16:/100 hum:2:uint:8``."""
        return parser_format(self.fields)

    def uplinks(self, tree: ObjectTree, device: str, *, simulate: bool = False,
                queue: TelemetryQueue | None = None) -> SigfoxUplinks:
        """Uplinks of the fields, read from ``tree``, by the modem on ``device`` (a serial device path), through
        ``queue`` when given; downlinks are applied to ``tree`` as the profile maps them.

        In simulator mode the first uplink goes out at start, so the emulator shows data at once.
        """
        # Imported here: the telemetry service (and its HTTP client) loads only for a profile that sends.
        from ..telemetry.service import tree_reader

        modem = SigfoxModem(device=device, command_timeout=10.0 if simulate else 60.0)
        return SigfoxUplinks(
            modem=modem, read=tree_reader(tree), fields=self.telemetry_fields(), interval=self.interval,
            send_at_start=simulate, queue=queue, downlink_every=self.downlink_every,
            on_downlink=downlink_handler(tree, self.downlink, self.downlink_execute),
            daily_limit=self.daily_uplinks, daily_downlink_limit=self.daily_downlinks,
            min_interval=0.5 if simulate else 1.0, retry_initial=1.0 if simulate else 5.0)


def default_field_name(path: Path) -> str:
    return "r" + "_".join(str(part) for part in path)


def profile_field(path: Path, text: str, name: str | None, rtype: ResourceType,
                  before: Sequence[SigfoxField], where: Where) -> SigfoxField:
    """The frame field of one ``fields`` entry (at ``where``; ``text`` is its ``format``) for a resource of
    type ``rtype``, placed after the entries ``before`` it. Raises ProfileError at the key to change:
    ``format``, or ``name`` when the entry names its field."""
    try:
        field = parse_field_format(path, default_field_name(path) if name is None else name, text)
    except HardwareConfigError as exc:
        raise _profile_error(exc, where, name) from None
    if rtype not in _CARRIES[field.type]:
        raise where.at("format").error(f"{path} is a {rtype.value}; it cannot be sent as {field.type}",
                                       "use int, uint or float for numbers, bool for Booleans, char for text")
    try:
        layout([*before, field])
    except HardwareConfigError as exc:
        raise _profile_error(exc, where, name) from None
    return field


def _profile_error(exc: HardwareConfigError, where: Where, name: str | None) -> ProfileError:
    if exc.field != "name":
        return where.at("format").error(exc.reason, exc.fix)
    # A default name is a clash of paths (one resource sent twice): the entry itself is to change.
    return (where if name is None else where.at("name")).error(exc.reason, exc.fix)
