"""The ``[sigfox]`` table of a profile: which resources go into the 12-byte uplink, and how.

A Sigfox uplink carries at most 12 bytes, so each value is packed in a fixed binary form that
Soracom's binary parser decodes on the cloud side. Fields are written in the parser's own type
syntax, so the profile and the console setting read alike::

    [sigfox]
    port = "sim:sigfox"
    interval = 900
    fields = [
      { path = "/3303/0/5700", format = "int:16:/100", name = "temp" },
      { path = "/3304/0/5700", format = "uint:8" },
    ]

``format`` is ``TYPE[:SIZE][:little-endian|:big-endian][:/DIVISOR]``: ``int``/``uint`` with a size in
bits (8 to 64, whole bytes), ``float:32``/``float:64``, ``bool[:BIT]`` (one byte, the value in bit
BIT), ``char:N`` (N bytes of text). A divisor means the value is sent multiplied by it (``/100``
sends 21.5 as 2150) and the parser divides. Fields are packed in order from byte 0;
:meth:`SigfoxProfile.parser_format` is the format string to paste into the console.

Only parsing and checking live here (pure code); sending is ``agent.telemetry``'s business.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..core.model import ResourceType
from ..core.path import Path

MAX_UPLINK_BYTES = 12
# 140 uplinks a day is the contract limit: one every 617 s at most, on average.
MIN_SENSIBLE_INTERVAL = 86400 / 140

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_DIVISOR = re.compile(r"^/(\d+(?:\.\d*)?|\.\d+)$")
_ENDIAN = {"little-endian": True, "big-endian": False}


class SigfoxFormatError(ValueError):
    """A field format that is not ``TYPE[:SIZE][:ENDIAN][:/DIVISOR]``: reason and fix."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


@dataclass(frozen=True, slots=True)
class FieldFormat:
    """One parsed field format."""

    type: str  # bool, int, uint, float, char
    size: int  # bits for int/uint/float, the bit position for bool, bytes for char
    little_endian: bool = False
    divisor: float | None = None

    @property
    def byte_length(self) -> int:
        if self.type == "bool":
            return 1
        if self.type == "char":
            return self.size
        return self.size // 8

    def text(self) -> str:
        parts = [self.type, str(self.size)]
        if self.little_endian:
            parts.append("little-endian")
        if self.divisor is not None:
            parts.append(f"/{self.divisor:g}")
        return ":".join(parts)

    def accepts(self, rtype: ResourceType) -> bool:
        """Whether a resource of ``rtype`` can be sent in this format."""
        if self.type == "bool":
            return rtype is ResourceType.BOOLEAN
        if self.type == "char":
            return rtype in (ResourceType.STRING, ResourceType.OPAQUE)
        return rtype in (ResourceType.INTEGER, ResourceType.UNSIGNED_INTEGER, ResourceType.FLOAT,
                         ResourceType.TIME, ResourceType.BOOLEAN)


def parse_field_format(text: str) -> FieldFormat:
    """Parse ``int:16:/100`` and the like; SigfoxFormatError says what is wrong and what to write."""
    if not isinstance(text, str) or not text.strip():
        raise SigfoxFormatError(f"{text!r} is not a field format", 'give e.g. format = "int:16:/100"')
    parts = text.strip().split(":")
    kind, rest = parts[0], parts[1:]
    if kind not in ("bool", "int", "uint", "float", "char"):
        raise SigfoxFormatError(f"unknown type {kind!r} in {text!r}", "use bool, int, uint, float or char")
    size: int | None = None
    little = False
    divisor: float | None = None
    if rest and rest[0].isascii() and rest[0].isdigit():
        size = int(rest.pop(0))
    if rest and rest[0] in _ENDIAN:
        little = _ENDIAN[rest.pop(0)]
    if rest and _DIVISOR.match(rest[0]):
        divisor = float(rest.pop(0)[1:])
    if rest:
        raise SigfoxFormatError(f"cannot read {':'.join(rest)!r} in {text!r}",
                                "write TYPE[:SIZE][:little-endian][:/DIVISOR], e.g. int:16:/100")
    if kind == "bool":
        size = 0 if size is None else size
        if size > 7:
            raise SigfoxFormatError(f"bit {size} in {text!r} is not 0 to 7", "give the bit position, e.g. bool:0")
    elif kind == "char":
        if size is None or not 1 <= size <= MAX_UPLINK_BYTES:
            raise SigfoxFormatError(f"{text!r} needs a length of 1 to {MAX_UPLINK_BYTES} bytes",
                                    "give the number of characters, e.g. char:4")
    elif kind == "float":
        if size not in (32, 64):
            raise SigfoxFormatError(f"{text!r}: a float is 32 or 64 bits", "write float:32 or float:64")
    elif size is None or size % 8 or not 8 <= size <= 64:
        raise SigfoxFormatError(f"{text!r}: an {kind} here is 8, 16, 24, 32, 40, 48, 56 or 64 bits",
                                f"write e.g. {kind}:16")
    if divisor is not None:
        if kind in ("bool", "char"):
            raise SigfoxFormatError(f"{text!r}: a {kind} takes no divisor", f"remove the /{divisor:g}")
        if divisor == 0 or not math.isfinite(divisor):
            raise SigfoxFormatError(f"{text!r}: the divisor must be a positive number", "write e.g. /100")
    if little and kind in ("bool", "char"):
        raise SigfoxFormatError(f"{text!r}: a {kind} has no byte order", "remove little-endian")
    assert size is not None
    return FieldFormat(kind, size, little, divisor)


@dataclass(frozen=True, slots=True)
class SigfoxField:
    path: Path
    name: str
    format: FieldFormat
    offset: int  # byte index in the uplink


@dataclass(frozen=True)
class SigfoxProfile:
    """The ``[sigfox]`` table: the modem's port, the uplink interval, and the packed fields."""

    port: str
    interval: float
    fields: tuple[SigfoxField, ...]

    @property
    def frame_length(self) -> int:
        return sum(f.format.byte_length for f in self.fields)

    def parser_format(self) -> str:
        """The binary parser format for the Soracom console, e.g. ``temp:0:int:16:/100 hum:2:uint:8``."""
        return " ".join(f"{f.name}:{f.offset}:{f.format.text()}" for f in self.fields)


def default_field_name(path: Path) -> str:
    return "r" + "_".join(str(part) for part in path)


def valid_field_name(name: str) -> bool:
    return bool(_NAME.match(name))
