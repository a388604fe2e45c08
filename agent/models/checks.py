"""The rules one field of an object model must follow, shared by the DDF XML and JSON loaders.

Both formats describe the same model, so a field is valid or not by one rule whatever file it came
from. Each check turns a raw field into its model value or raises :class:`FieldError` with a reason
and a fix; the loaders add the file and the element, which only they know.
"""

from __future__ import annotations

import re
from typing import Literal

from ..core.model import Operations, ResourceType

MAX_ID = 65534
"""Object and resource ids are 16-bit; 65535 (MAX_ID in the spec's sense) is reserved."""

_VERSION = re.compile(r"\d{1,5}\.\d{1,5}")
# XML 1.0 cannot carry other characters, and every model must be writable as DDF XML.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_TYPE_NAMES = ", ".join(t.value for t in ResourceType if t is not ResourceType.NONE)


class FieldError(ValueError):
    """One field that breaks its rule; the loader turns it into a ModelError naming file and element."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


def identifier(raw: object, kind: Literal["object", "resource"]) -> int:
    """An object or resource id: a decimal integer 0..65534."""
    if isinstance(raw, bool):
        raise FieldError(
            f"{kind} id {raw!r} is not an integer", f"give the {kind} id as a number 0..{MAX_ID}"
        )
    if isinstance(raw, str):
        text = raw.strip()
        # int() also takes '+5', '1_0' and non-ASCII digits; an id is plain ASCII decimal.
        if not (text.isascii() and text.isdigit()):
            raise FieldError(
                f"{kind} id {raw!r} is not a decimal integer", f"write the {kind} id as digits, 0..{MAX_ID}"
            )
        value = int(text)
    elif isinstance(raw, int):
        value = raw
    else:
        raise FieldError(
            f"{kind} id {raw!r} is not an integer", f"give the {kind} id as a number 0..{MAX_ID}"
        )
    if not 0 <= value <= MAX_ID:
        article = "an" if kind == "object" else "a"
        raise FieldError(f"{kind} id {value} is out of range", f"use {article} {kind} id from 0 to {MAX_ID}")
    return value


def _flag(raw: object, true_word: str, false_word: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word == true_word.lower():
            return True
        if word == false_word.lower():
            return False
    raise FieldError(f"{raw!r} is neither {true_word} nor {false_word}", f"write {true_word} or {false_word}")


def multiple(raw: object) -> bool:
    """MultipleInstances: ``Multiple``/``Single`` in any case (or a JSON boolean)."""
    return _flag(raw, "Multiple", "Single")


def mandatory(raw: object) -> bool:
    """Mandatory: ``Mandatory``/``Optional`` in any case (or a JSON boolean)."""
    return _flag(raw, "Mandatory", "Optional")


def resource_type(raw: object) -> ResourceType:
    """A resource type in the registry's spelling or the Soracom API's (``UNSIGNED_INTEGER``)."""
    if raw is None:
        return ResourceType.NONE
    if not isinstance(raw, str):
        raise FieldError(f"type {raw!r} is not a string", f"use one of {_TYPE_NAMES}, or none")
    try:
        return ResourceType.parse(raw)
    except ValueError:
        raise FieldError(
            f"unknown resource type {raw.strip()!r}", f"use one of {_TYPE_NAMES}, or none"
        ) from None


def operations(raw: object) -> Operations:
    """Operations R, W, RW, E or none (empty, or ``NONE`` as the Soracom API writes it)."""
    if not isinstance(raw, str):
        raise FieldError(f"operations {raw!r} is not a string", "write R, W, RW, E or leave it empty")
    key = raw.strip().upper()
    if key == "NONE":
        return Operations.NONE
    if key in ("RE", "WE", "RWE"):
        raise FieldError(
            f"operations {raw.strip()!r} mix Execute with Read/Write, which no LwM2M resource does",
            "make the resource E only, or R/W/RW, and split it into two resources if it needs both",
        )
    try:
        return Operations.parse(raw)
    except ValueError:
        raise FieldError(
            f"unknown operations {raw.strip()!r}", "write R, W, RW, E or leave it empty"
        ) from None


def text(raw: object) -> str:
    """A free-text field, trimmed, with line ends as XML reads them back (LF only)."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise FieldError(f"{raw!r} is not text", "write this field as a string")
    cleaned = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    bad = _NOT_XML_CHAR.search(cleaned)
    if bad is not None:
        raise FieldError(
            f"holds the control character U+{ord(bad.group()):04X}, which XML cannot carry",
            "remove control characters from the text",
        )
    return cleaned


def name(raw: object) -> str:
    """A name: non-empty text on one line."""
    value = text(raw)
    if not value:
        raise FieldError("name is empty", "give it a name")
    if "\n" in value or "\t" in value:
        raise FieldError("name spans several lines", "write the name on one line")
    return value


def version(raw: object, default: str = "1.0") -> str:
    """An ObjectVersion or LWM2MVersion, ``MAJOR.MINOR``; absent or empty means ``default``."""
    if raw is None:
        return default
    if not isinstance(raw, str):
        raise FieldError(f"version {raw!r} is not a string", 'write it as a string "MAJOR.MINOR", e.g. "1.0"')
    value = raw.strip()
    if not value:
        return default
    if not _VERSION.fullmatch(value):
        raise FieldError(f"version {value!r} is not MAJOR.MINOR", 'write it as "MAJOR.MINOR", e.g. "1.0"')
    return value


def version_key(value: str) -> tuple[int, int]:
    """Order versions numerically (1.10 after 1.9); values are already checked by :func:`version`."""
    major, _, minor = value.partition(".")
    return int(major), int(minor or 0)


def resource_kind(ops: Operations, rtype: ResourceType) -> tuple[ResourceType, FieldError | None]:
    """Check that operations and type agree; return the type to use and, if they do not, a warning.

    An executable resource has no type (Execute carries arguments, not a value), so a declared type
    is dropped; a readable or writable one without a type cannot be encoded in TLV or text. The
    public registry holds one file of each kind, so both are warnings, not refusals.
    """
    if ops.executable and rtype is not ResourceType.NONE:
        return ResourceType.NONE, FieldError(
            f"executable resource declares type {rtype.value}; loaded as type none",
            "leave the type of an executable (E) resource empty",
        )
    if (ops.readable or ops.writable) and rtype is ResourceType.NONE:
        return rtype, FieldError(
            f"{ops.value} resource has no type; its value can only be carried by self-describing formats",
            f"give it a type ({_TYPE_NAMES}), or make it E if it is an action",
        )
    return rtype, None
