"""What goes wrong in a device profile, said so that a person can fix it without reading Python.

A profile is written by hand, and the agent refuses to start on a bad one. Every problem is one
line a CLI prints as it is: the file, the line in it, the TOML field (``objects.3303.0.resources.
5700.kind``), what is wrong, and what to write instead::

    device_profiles/pi.toml:23: objects.3303.0.resources.5700.kind: unknown binding kind 'serail_line'
    (did you mean 'serial_line'?); fix: use one of system, serial_line, ...
"""

from __future__ import annotations

import datetime
import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from .locate import KeyPath, LineIndex, format_path


def _one_line(text: str) -> str:
    return " ".join(text.split())


class ProfileError(Exception):
    """A profile that cannot be used; ``line`` is 1-based, ``field`` the dotted TOML key path."""

    def __init__(self, file: str, line: int, field: str, reason: str, fix: str) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.reason = _one_line(reason)
        self.fix = _one_line(fix)
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:"
        field = f" {self.field}:" if self.field else ""
        fix = f"; fix: {self.fix}" if self.fix else ""
        return f"{where}{field} {self.reason}{fix}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a near miss among ``choices``, else the empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True, slots=True)
class Where:
    """A place in a profile: its file, the document's line index, and a key path in it."""

    file: str
    lines: LineIndex
    path: KeyPath = ()

    def at(self, *keys: str | int) -> Where:
        return Where(self.file, self.lines, self.path + keys)

    @property
    def line(self) -> int:
        return self.lines.line(self.path)

    @property
    def field(self) -> str:
        return format_path(self.path)

    def error(self, reason: str, fix: str) -> ProfileError:
        return ProfileError(self.file, self.line, self.field, reason, fix)


def toml_text(value: object, limit: int = 40) -> str:
    """A value as it would be written in TOML (``true``, ``"x"``, ``[1, 2]``), for messages."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, (datetime.date, datetime.time)):
        text = value.isoformat()
    elif isinstance(value, list):
        text = "[" + ", ".join(toml_text(v, limit) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{ " + ", ".join(f"{k} = {toml_text(v, limit)}" for k, v in value.items()) + " }" if value else "{}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
