"""Sigfox frames: resource values packed into at most 12 bytes, laid out as Soracom's binary parser reads.

A Sigfox uplink carries 12 bytes at most, so values travel as bit fields, not as text. Soracom turns such a
frame back into JSON with its *binary parser*, configured per group with a format string of entries
``name:byteIndex:type[:params][:/divisor]`` (their text form is in ``sigfox_spec``). This module holds the
binary side of that contract: where each :class:`SigfoxField` sits (:func:`layout`), packing a frame from
resource values (:func:`pack_frame`), and decoding one as the parser would (:func:`unpack_frame`, which the
tests and the cloud emulator use). Pure code: no I/O.

Layout rules. A field starts at its byte ``index``, or without one at the byte after the previous field.
Integers narrower than their bytes take the most significant bits first: ``temp:1:int:13:/10`` is read
from bits 7..0 of byte 1 and 7..3 of byte 2, as Soracom's documentation shows. Consecutive bools without
an index share a byte, bit 7 first, as the Sigfox parser's "current byte for booleans" rule has it.
Multi-byte numbers are big-endian unless ``little_endian``. The frame ends with its furthest-reaching field.
Values are multiplied by the divisor and rounded; out-of-range numbers are clamped with a warning.
"""

from __future__ import annotations

import logging
import math
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..core.model import ObjectLink, Value
from ..core.path import Path
from ..hardware.errors import HardwareConfigError

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 12
FIELD_TYPES = ("bool", "int", "uint", "float", "char")
# Keys of the Sigfox message Soracom forwards; the console refuses them as binary parser names.
RESERVED_NAMES = frozenset({
    "countryCode", "data", "device", "lat", "lng", "lqi", "operatorName", "rssi", "seqNumber", "snr",
    "station", "time",
})
_NAME = re.compile(r"[A-Za-z0-9#\-_$]+")

FrameValue = bool | int | float | str


class SigfoxFrameError(ValueError):
    """A value that cannot be packed, or a frame that is too short for the layout it is decoded with."""


@dataclass(frozen=True)
class SigfoxField:
    """One resource's place in the frame.

    ``bits`` is the size of the field: 1 for bool, 1..64 for int/uint, 32 or 64 for float, 8 per
    character for char. ``index`` is the byte the field starts at (None: after the previous field) and
    ``bit`` the bit a bool occupies (7 = most significant; None: the next free one).
    """

    path: Path
    name: str
    type: str
    bits: int
    divisor: float = 1.0
    index: int | None = None
    bit: int | None = None
    little_endian: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise HardwareConfigError("name", f"{self.name!r} is not a binary parser name",
                                      "use letters, digits and # - _ $ only, e.g. temp")
        if self.name in RESERVED_NAMES:
            raise HardwareConfigError("name", f"{self.name!r} is already a key of the Sigfox message",
                                      f"pick another name (reserved: {', '.join(sorted(RESERVED_NAMES))})")
        if self.type not in FIELD_TYPES:
            raise HardwareConfigError("type", f"{self.type!r} is not a binary parser type",
                                      f"use one of {', '.join(FIELD_TYPES)}")
        sizes = {"bool": (1,), "int": range(1, 65), "uint": range(1, 65), "float": (32, 64),
                 "char": range(8, 8 * MAX_FRAME_BYTES + 1, 8)}[self.type]
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or self.bits not in sizes:
            fix = {"bool": "a bool is 1 bit", "int": "give 1..64 bits", "uint": "give 1..64 bits",
                   "float": "give 32 or 64", "char": "give 1..12 characters (8 bits each)"}[self.type]
            raise HardwareConfigError(
                "bits", f"{self.bits!r} bits do not fit a {self.type} field of {self.name}", fix)
        if (isinstance(self.divisor, bool) or not isinstance(self.divisor, (int, float))
                or not math.isfinite(self.divisor) or self.divisor <= 0):
            raise HardwareConfigError("divisor", f"{self.divisor!r} is not a positive number ({self.name})",
                                      "give e.g. /100 to send hundredths")
        # One type for the divisor: an int divisor would divide huge raw values exactly where the
        # parser (JavaScript numbers) and a float divisor round first, and the two would disagree.
        object.__setattr__(self, "divisor", float(self.divisor))
        if self.type in ("bool", "char") and self.divisor != 1:
            raise HardwareConfigError("divisor", f"a {self.type} field ({self.name}) takes no divisor",
                                      "remove the /divisor")
        if self.index is not None and (isinstance(self.index, bool) or not isinstance(self.index, int)
                                       or not 0 <= self.index < MAX_FRAME_BYTES):
            raise HardwareConfigError(
                "index", f"byte index {self.index!r} of {self.name} is outside the frame",
                f"give 0..{MAX_FRAME_BYTES - 1}, or leave it out to follow the previous field")
        if self.bit is not None and (self.type != "bool" or isinstance(self.bit, bool)
                                     or not isinstance(self.bit, int) or not 0 <= self.bit <= 7):
            raise HardwareConfigError("bit", f"bit {self.bit!r} of {self.name} is not a bool's bit 0..7",
                                      "give 0..7 (7 = most significant) for a bool, nothing for other types")
        whole_bytes = self.type == "float" or (self.type in ("int", "uint") and self.bits % 8 == 0)
        if self.little_endian and not whole_bytes:
            raise HardwareConfigError("endian", f"{self.name}: little-endian needs whole bytes",
                                      "use a float, or an int/uint of 8, 16, 24... bits")

    @property
    def characters(self) -> int:
        return self.bits // 8


@dataclass(frozen=True)
class PlacedField:
    """A field at its resolved position: ``start`` counts bits from the most significant bit of byte 0."""

    field: SigfoxField
    byte: int
    start: int

    @property
    def end(self) -> int:
        return self.start + self.field.bits

    @property
    def bit(self) -> int:
        """The bit of ``byte`` the field starts at (7 = most significant)."""
        return 7 - self.start % 8

    @property
    def end_byte(self) -> int:
        return (self.end + 7) // 8


def layout(fields: Sequence[SigfoxField]) -> list[PlacedField]:
    """Resolve every field's position; a layout that overlaps or overflows 12 bytes is a config error."""
    placed: list[PlacedField] = []
    owner: dict[int, str] = {}
    cursor = 0
    bool_byte: int | None = None  # the byte of the previous field when it was a bool
    names: set[str] = set()
    for field in fields:
        if field.name in names:
            raise HardwareConfigError("name", f"two fields are named {field.name!r}",
                                      "give each field its own name")
        names.add(field.name)
        if field.type == "bool":
            byte, bit = _place_bool(field, cursor, bool_byte, owner)
            start = byte * 8 + (7 - bit)
        else:
            byte = cursor if field.index is None else field.index
            start = byte * 8
        slot = PlacedField(field, byte, start)
        if slot.end_byte > MAX_FRAME_BYTES:
            raise HardwareConfigError(
                "format",
                f"{field.name} ends at byte {slot.end_byte}, past the {MAX_FRAME_BYTES}-byte Sigfox frame",
                "send fewer or narrower fields (fewer bits, a coarser divisor)")
        for position in range(slot.start, slot.end):
            if position in owner:
                raise HardwareConfigError(
                    "format", f"{field.name} overlaps {owner[position]} at byte {position // 8}",
                    "give the fields distinct byte indices, or leave the indices out")
            owner[position] = field.name
        placed.append(slot)
        cursor = slot.end_byte
        bool_byte = byte if field.type == "bool" else None
    return placed


def _place_bool(
    field: SigfoxField, cursor: int, bool_byte: int | None, owner: Mapping[int, str]
) -> tuple[int, int]:
    def free(byte: int, bit: int) -> bool:
        return byte * 8 + (7 - bit) not in owner

    def first_free(byte: int) -> int | None:
        return next((bit for bit in range(7, -1, -1) if free(byte, bit)), None)

    if field.index is not None:
        byte = field.index
    elif bool_byte is not None and (first_free(bool_byte) if field.bit is None else
                                    (field.bit if free(bool_byte, field.bit) else None)) is not None:
        byte = bool_byte
    else:
        byte = cursor
    if field.bit is not None:
        return byte, field.bit
    bit = first_free(byte)
    return byte, 7 if bit is None else bit  # a full byte: bit 7 then reports the overlap


def frame_length(fields: Sequence[SigfoxField]) -> int:
    """How many bytes a frame of ``fields`` takes."""
    return max((slot.end_byte for slot in layout(fields)), default=0)


# ---- packing ---------------------------------------------------------------------------------------


def pack_frame(fields: Sequence[SigfoxField], values: Mapping[str, Value]) -> bytes:
    """Pack ``values`` (by field name) into a frame of at most 12 bytes.

    Numbers are multiplied by the divisor and rounded; one outside what the field can hold is clamped
    to the nearest end, with a warning. A missing value or one of the wrong kind raises SigfoxFrameError.
    """
    slots = layout(fields)
    length = max((slot.end_byte for slot in slots), default=0)
    total = length * 8
    frame = 0
    for slot in slots:
        field = slot.field
        if field.name not in values:
            raise SigfoxFrameError(f"no value for {field.name} ({field.path})")
        raw = _encode(field, values[field.name])
        frame |= raw << (total - slot.end)
    return frame.to_bytes(length, "big")


def _encode(field: SigfoxField, value: Value) -> int:
    if field.type == "bool":
        return int(_as_bool(field, value))
    if field.type == "char":
        return int.from_bytes(_as_text(field, value), "big")
    if field.type == "float":
        return _encode_float(field, _scaled(field, value))
    return _encode_integer(field, value)


def _as_bool(field: SigfoxField, value: Value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise SigfoxFrameError(f"{field.name}: {value!r} is not a boolean")


def _as_text(field: SigfoxField, value: Value) -> bytes:
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode("ascii", errors="replace")
        if not value.isascii():
            log.warning("%s: non-ASCII characters of %r sent as '?'", field.name, value)
    elif isinstance(value, ObjectLink):
        data = str(value).encode()
    else:
        data = str(value).encode("ascii", errors="replace")
    if len(data) > field.characters:
        log.warning("%s: %r cut to %d characters", field.name, value, field.characters)
        data = data[: field.characters]
    return data.ljust(field.characters, b"\0")


def _number(field: SigfoxField, value: Value) -> int | float:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
        try:
            return float(value)
        except ValueError:
            pass
    raise SigfoxFrameError(f"{field.name}: {value!r} is not a number")


def _scaled(field: SigfoxField, value: Value) -> int | float:
    number = _number(field, value)
    if field.divisor == 1:
        return number
    try:
        return number * field.divisor
    except OverflowError:  # an int too large for a float
        return math.inf if number > 0 else -math.inf


def _encode_integer(field: SigfoxField, value: Value) -> int:
    scaled = _scaled(field, value)
    if isinstance(scaled, float) and math.isnan(scaled):
        raise SigfoxFrameError(f"{field.name}: NaN cannot be sent as an integer")
    low, high = _integer_range(field)
    if scaled < low or scaled > high:
        clamped = low if scaled < low else high
        log.warning("%s: %r (x %g) does not fit %s:%d; sent as %d", field.name, value, field.divisor,
                    field.type, field.bits, clamped)
        raw = clamped
    else:
        raw = scaled if isinstance(scaled, int) else round(scaled)
        raw = min(max(raw, low), high)  # rounding 127.6 up must not leave the range
    raw &= (1 << field.bits) - 1
    if field.little_endian:
        raw = int.from_bytes(raw.to_bytes(field.bits // 8, "big"), "little")
    return raw


def _integer_range(field: SigfoxField) -> tuple[int, int]:
    if field.type == "uint":
        return 0, (1 << field.bits) - 1
    return -(1 << (field.bits - 1)), (1 << (field.bits - 1)) - 1


def _encode_float(field: SigfoxField, scaled: int | float) -> int:
    code = _float_code(field)
    try:
        number = float(scaled)
    except OverflowError:  # an int beyond any float
        number = math.copysign(math.inf, scaled)
    if field.bits == 32 and math.isfinite(number) and abs(number) > _FLOAT32_MAX:
        clamped = math.copysign(_FLOAT32_MAX, number)
        log.warning("%s: %r does not fit a 32-bit float; sent as %g", field.name, scaled, clamped)
        number = clamped
    try:
        packed = struct.pack(code, number)
    except OverflowError:  # rounding of a value just above float32's largest finite number
        packed = struct.pack(code, math.copysign(_FLOAT32_MAX, number))
    return int.from_bytes(packed, "big")


_FLOAT32_MAX = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]


def _float_code(field: SigfoxField) -> str:
    return ("<" if field.little_endian else ">") + ("f" if field.bits == 32 else "d")


# ---- unpacking -------------------------------------------------------------------------------------


def unpack_frame(fields: Sequence[SigfoxField], data: bytes) -> dict[str, FrameValue]:
    """Decode a frame as Soracom's binary parser would: integers divided by the divisor, ASCII text
    without its NUL padding. A frame shorter than the layout raises SigfoxFrameError."""
    slots = layout(fields)
    number = int.from_bytes(data, "big")
    total = len(data) * 8
    decoded: dict[str, FrameValue] = {}
    for slot in slots:
        field = slot.field
        if slot.end > total:
            raise SigfoxFrameError(
                f"{field.name} needs byte {slot.end_byte - 1}, but the frame has {len(data)} bytes")
        raw = (number >> (total - slot.end)) & ((1 << field.bits) - 1)
        decoded[field.name] = _decode(field, raw)
    return decoded


def _decode(field: SigfoxField, raw: int) -> FrameValue:
    if field.type == "bool":
        return bool(raw)
    if field.type == "char":
        return raw.to_bytes(field.characters, "big").rstrip(b"\0").decode("ascii", errors="replace")
    if field.type == "float":
        number: float = struct.unpack(_float_code(field), raw.to_bytes(field.bits // 8, "big"))[0]
        return number / field.divisor if field.divisor != 1 else number
    if field.little_endian:
        raw = int.from_bytes(raw.to_bytes(field.bits // 8, "big"), "little")
    if field.type == "int" and raw >= 1 << (field.bits - 1):
        raw -= 1 << field.bits
    return raw / field.divisor if field.divisor != 1 else raw
