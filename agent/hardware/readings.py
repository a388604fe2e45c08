"""Turning what hardware says (a line of text, a file's content) into a typed resource value.

Every backend that reads text shares two steps: pick the part of a line that holds the value (a
regular expression or a field index), then parse it into the resource's LwM2M type with
``agent.core.values.text_to_value``. A reading that does not parse is the hardware's fault, not the
requester's, so it becomes ``ServiceUnavailable`` (5.03) rather than the codec's 4.00.
"""

from __future__ import annotations

import math
import re

from ..core.errors import CodecError, ServiceUnavailable
from ..core.model import ResourceType, Value
from ..core.values import coerce, text_to_value
from .errors import HardwareConfigError

_BOOLEAN_WORDS = {
    "1": True, "true": True, "on": True, "yes": True, "high": True, "active": True,
    "0": False, "false": False, "off": False, "no": False, "low": False, "inactive": False,
}

_NUMERIC = (ResourceType.INTEGER, ResourceType.UNSIGNED_INTEGER, ResourceType.TIME, ResourceType.FLOAT)


def parse_reading(text: str, rtype: ResourceType, source: str) -> Value:
    """Parse one reading; raise ``ServiceUnavailable`` naming ``source`` when it is not a ``rtype``."""
    if rtype is ResourceType.OPAQUE:
        return text.encode()
    stripped = text.strip()
    if rtype is ResourceType.BOOLEAN:
        found = _BOOLEAN_WORDS.get(stripped.lower())
        if found is None:
            raise ServiceUnavailable(f"{source} gave {stripped[:40]!r}, which is not a Boolean")
        return found
    try:
        value = text_to_value(stripped, rtype, source)
    except CodecError:
        raise ServiceUnavailable(f"{source} gave {stripped[:40]!r}, which is not a {rtype.value}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ServiceUnavailable(f"{source} gave {stripped[:40]!r}, which is not a finite number")
    return value


def convert_value(value: Value, rtype: ResourceType, source: str) -> Value:
    """Convert a value a backend computed (an int, a float, a str) to the type the resource wants.

    Numbers convert between each other (rounding to integers), anything converts to a String; other
    combinations follow ``coerce``. A profile that binds a fact to a type it cannot become fails here
    on the first read, with a 5.03 naming the source.
    """
    if rtype in _NUMERIC and isinstance(value, (int, float)) and not isinstance(value, bool):
        if rtype is ResourceType.FLOAT:
            return float(value)
        number = round(value)
        if rtype is ResourceType.UNSIGNED_INTEGER and number < 0:
            raise ServiceUnavailable(f"{source} gave {value}, which is not an Unsigned Integer")
        return number
    if rtype is ResourceType.STRING and not isinstance(value, (bytes, str)):
        return str(value)
    try:
        return coerce(value, rtype, source)
    except CodecError:
        raise ServiceUnavailable(f"{source} gave {value!r}, which is not a {rtype.value}") from None


def compile_pattern(pattern: str, field: str = "pattern") -> re.Pattern[str]:
    """Compile a profile's regular expression, or raise ``HardwareConfigError`` naming ``field``."""
    try:
        compiled = re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise HardwareConfigError(
            field, f"{pattern!r} is not a regular expression ({exc})",
            "write a Python regular expression; put the value in a group named 'value' or in group 1",
        ) from None
    return compiled


def match_value(pattern: re.Pattern[str], text: str) -> str | None:
    """The value a pattern finds in ``text``: group 'value', else group 1, else the whole match."""
    found = pattern.search(text)
    if found is None:
        return None
    if "value" in pattern.groupindex:
        return found.group("value")
    if pattern.groups >= 1:
        return found.group(1)
    return found.group(0)


class LineSelector:
    """Picks the value out of one line of text, for line-based sensors.

    ``pattern`` both selects the lines meant for this resource (a line that does not match is
    somebody else's and is ignored) and extracts the value (group ``value``, else group 1, else the
    whole match). ``field`` then splits what is left by ``separator`` (whitespace when None) and
    takes that field (negative counts from the end); with a pattern that has no groups, ``field``
    splits the whole line (``pattern="^H,", field=2, separator=","`` reads "H,sensor1,48" as 48).
    A line that matches but lacks the field is malformed: ``extract`` raises ``ValueError`` for it.
    """

    __slots__ = ("field", "pattern", "separator")

    def __init__(self, *, pattern: str | None = None, field: int | None = None,
                 separator: str | None = None) -> None:
        self.pattern = compile_pattern(pattern) if pattern is not None else None
        if field is not None and (isinstance(field, bool) or not isinstance(field, int)):
            raise HardwareConfigError("field", f"{field!r} is not an integer",
                                      "give the zero-based index of the value's field in the line")
        if separator is not None and separator == "":
            raise HardwareConfigError("separator", "the separator is empty",
                                      "leave it out to split on whitespace, or give e.g. ','")
        self.field = field
        self.separator = separator

    def extract(self, line: str) -> str | None:
        """The value's text in ``line``; None when the line is not for this resource."""
        text: str | None = line
        if self.pattern is not None:
            if self.field is not None and self.pattern.groups == 0:
                # A pattern without groups only selects the lines; the field is taken from the line.
                if self.pattern.search(line) is None:
                    return None
            else:
                text = match_value(self.pattern, line)
                if text is None:
                    return None
        assert text is not None
        if self.field is not None:
            parts = text.split(self.separator)
            try:
                text = parts[self.field]
            except IndexError:
                raise ValueError(
                    f"line has {len(parts)} fields, no field {self.field}: {line[:60]!r}"
                ) from None
        return text
