"""The text forms of Sigfox frame fields: profile field specs and Soracom binary parser format strings.

Each resource's place in the frame is written as a *field spec* (``temp:int:16:/100``); the user pastes
the matching *binary parser format* (``temp:0:int:16:/100 hum:2:uint:8``) into the Soracom console so the
service decodes the frames. Both use the parser's entry syntax; a spec may leave out the byte index. A device
profile writes the spec without its name (``format = "int:16:/100", name = "temp"``; :func:`parse_field_format`)::

    spec    = name [":" [index]] ":" type [":" param] [":" endian] [":/" divisor]
    name    = 1*(ALPHA / DIGIT / "#" / "-" / "_" / "$")   ; not a key the Sigfox message already has
    index   = byte index 0..11; omitted or empty: right after the previous field
    type    = "bool" / "int" / "uint" / "float" / "char"
    param   = bool: bit 0..7 in the byte (7 = most significant; omitted: the next free bit, 7 first)
              int, uint: size in bits 1..64 (required)
              float: 32 or 64 (default 32)
              char: number of ASCII characters (default 1)
    endian  = "big-endian" (default) / "little-endian"       ; int/uint of whole bytes, float
    divisor = a positive number; the frame holds round(value * divisor), the parser divides it back

Examples: ``temp:int:16:/100`` (-327.68..327.67 in steps of 0.01), ``hum::uint:8``, ``door:0:bool:7``,
``pressure:float:32``, ``code:char:3``. Soracom's other operations (``*2``, ``+10``) and bit offsets are
refused with a message. :func:`parser_format` writes every index explicitly, because Soracom's documentation
leaves open where an index-less bool after a bool goes. Soracom's ``char`` takes its length as the Sigfox
parser's does (``str::char:6``); that Soracom reads the length is unconfirmed. Pure code: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from ..core.errors import BadRequest
from ..core.path import Path
from ..hardware.errors import HardwareConfigError
from .sigfox_frame import FIELD_TYPES, SigfoxField, layout

_ENDIANNESS = ("big-endian", "little-endian")


def parser_format(fields: Sequence[SigfoxField]) -> str:
    """The binary parser format to paste in the Soracom console, every index explicit:
    ``temp:0:int:16:/100 hum:2:uint:8``."""
    return " ".join(field_spec(slot.field, index=slot.byte, bit=slot.bit) for slot in layout(fields))


def field_spec(field: SigfoxField, *, index: int | None = None, bit: int | None = None) -> str:
    """The spec text of ``field`` (``parse_field_spec`` reads it back); ``index``/``bit`` override its own."""
    index = field.index if index is None else index
    parts = [field.name, "" if index is None else str(index), field.type]
    if field.type == "bool":
        chosen = field.bit if bit is None else bit
        if chosen is not None:
            parts.append(str(chosen))
    elif field.type == "char":
        parts.append(str(field.characters))
    else:
        parts.append(str(field.bits))
        if field.little_endian:
            parts.append("little-endian")
        if field.divisor != 1:
            parts.append("/" + _number_text(field.divisor))
    return ":".join(parts)


def _number_text(number: float) -> str:
    """A number as plain decimal text (no exponent), exact enough that float() gives it back."""
    if float(number).is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{Decimal(repr(float(number))):f}"


def parse_field_spec(path: str | Path, spec: str) -> SigfoxField:
    """Read one entry with its name (``temp:int:16:/100``; syntax in the module docstring) for the resource
    at ``path``. Raises HardwareConfigError naming the spec and what to write instead."""
    resource = path if isinstance(path, Path) else _parse_path(path)
    if not isinstance(spec, str) or not spec.strip():
        raise HardwareConfigError("format", f"{spec!r} is not a field spec", 'write e.g. "temp:int:16:/100"')
    name, colon, body = spec.strip().partition(":")
    if not colon:
        raise HardwareConfigError("format", f"{spec!r} has no type", f'write name:type, e.g. "{name}:uint:8"')
    return _parse_entry(resource, name, body, spec, f"{name}:", "name[:index]:")


def parse_field_format(path: str | Path, name: str, text: str) -> SigfoxField:
    """Read an entry whose name is given apart (``int:16:/100``, ``4:uint:8``: the spec syntax without
    ``name:``), as a device profile writes it: ``{ path = "/3303/0/5700", format = "int:16:/100", name = "temp" }``.
    Raises HardwareConfigError naming ``text`` and what to write instead."""
    resource = path if isinstance(path, Path) else _parse_path(path)
    if not isinstance(text, str) or not text.strip():
        raise HardwareConfigError("format", f"{text!r} is not a field format", 'write e.g. "int:16:/100"')
    return _parse_entry(resource, name, text.strip(), text, "", "[index:]")


def _parse_entry(resource: Path, name: str, body: str, spec: str, example: str, lead: str) -> SigfoxField:
    """``body`` is the entry after its name (``[index:]type[:param]...``); ``spec`` the text to quote in
    errors, ``example`` what comes before the type in a suggestion and ``lead`` in the syntax shown."""
    tokens = body.split(":")
    if tokens[0] in FIELD_TYPES:
        index, rest = None, tokens
    else:
        index = _parse_index(spec, tokens[0], lead)
        rest = tokens[1:]
        if not rest:
            raise HardwareConfigError("format", f"{spec!r} has no type",
                                      f"add one of {', '.join(FIELD_TYPES)}")
    kind, params = rest[0], rest[1:]
    if kind not in FIELD_TYPES:
        raise HardwareConfigError("format", f"{spec!r}: {kind!r} is not a type",
                                  f"use one of {', '.join(FIELD_TYPES)}")
    size: int | None = None
    divisor = 1.0
    little_endian = False
    for position, token in enumerate(params):
        if token.startswith("/"):
            divisor = _parse_divisor(spec, token)
        elif token in _ENDIANNESS:
            little_endian = token == "little-endian"
        elif _is_number(token) and position == 0:
            size = int(token)
        elif token[:1] in ("+", "-", "*") or "/" in token:
            raise HardwareConfigError("format", f"{spec!r}: operation {token!r} is not supported",
                                      "only a divisor (/100) scales values")
        else:
            raise HardwareConfigError("format", f"{spec!r}: unexpected {token!r}",
                                      f"write {lead}type[:size][:little-endian][:/divisor]")
    try:
        return _build_field(resource, name, kind, size, divisor, index, little_endian, example)
    except HardwareConfigError as exc:
        if exc.field == "name":  # it quotes the name, which a profile's format does not hold
            raise
        raise HardwareConfigError(exc.field, f"{spec!r}: {exc.reason}", exc.fix) from None


def _build_field(path: Path, name: str, kind: str, size: int | None, divisor: float, index: int | None,
                 little_endian: bool, example: str) -> SigfoxField:
    if kind == "bool":
        return SigfoxField(path, name, kind, 1, divisor, index, size, little_endian)
    if kind == "char":
        return SigfoxField(path, name, kind, 8 * (1 if size is None else size), divisor, index, None,
                           little_endian)
    if kind == "float":
        bits = 32 if size is None else size
        return SigfoxField(path, name, kind, bits, divisor, index, None, little_endian)
    if size is None:
        raise HardwareConfigError("bits", f"an {kind} needs its size in bits", f"write e.g. {example}{kind}:16")
    return SigfoxField(path, name, kind, size, divisor, index, None, little_endian)


def _parse_index(spec: str, token: str, lead: str) -> int | None:
    if token == "":
        return None
    if _is_number(token):
        return int(token)
    raise HardwareConfigError("format", f"{spec!r}: {token!r} is neither a byte index nor a type",
                              f"write {lead}type with a type among {', '.join(FIELD_TYPES)}")


def _parse_divisor(spec: str, token: str) -> float:
    try:
        divisor = float(token[1:])
    except ValueError:
        divisor = math.nan
    if not math.isfinite(divisor) or divisor <= 0:
        raise HardwareConfigError("divisor", f"{spec!r}: {token!r} is not a positive divisor",
                                  "write e.g. /100")
    return divisor


def _parse_path(text: str) -> Path:
    try:
        resource = Path.parse(text)
    except BadRequest as exc:
        raise HardwareConfigError("path", exc.message, 'give a resource path, e.g. "/3303/0/5700"') from None
    if resource.level < 3:
        raise HardwareConfigError("path", f"{text!r} is not a resource", 'give e.g. "/3303/0/5700"')
    return resource


def parse_parser_format(text: str) -> list[SigfoxField]:
    """Read a binary parser format string (as :func:`parser_format` writes it) back into fields without
    resource paths (``Path()``): what the cloud side needs to decode frames."""
    return [parse_field_spec(Path(), entry) for entry in text.split()]


def _is_number(token: str) -> bool:
    # str.isdigit() also holds for '²' and other digits int() refuses.
    return token.isascii() and token.isdigit()
