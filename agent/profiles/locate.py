"""Where each key of a TOML document is written: the line numbers ``tomllib`` does not give.

``tomllib`` turns a document into dicts and lists and forgets where things came from, but a profile
error must name its line. :class:`LineIndex` scans the source once more, after ``tomllib`` has
accepted it, and records the line of every table header, every ``key =`` (dotted keys, keys inside
inline tables) and every array element, under the same key path the parsed data has:
``("objects", "3303", "0", "resources", "5700", "kind")``, with ``int`` indices for array elements
and for the tables of ``[[array.of.tables]]``.

It is a scanner of the TOML *structure* (keys, strings, brackets, comments), not a second TOML
parser: values are skipped, never interpreted. Pure code, no I/O. It never raises: on input it does
not follow it keeps what it found so far, and a lookup falls back to the nearest known parent.
"""

from __future__ import annotations

import json

KeyPath = tuple[str | int, ...]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SCALAR_END = frozenset(",]}\n#")


def format_path(path: KeyPath) -> str:
    """``objects.3303.0.kind``; array indices as ``fields[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if part and all(c in _BARE for c in part) else json.dumps(part)
            out += f".{text}" if out else text
    return out


class _Stop(Exception):
    """The scanner met something it does not follow; what was recorded so far stands."""


class LineIndex:
    """Line numbers (1-based) of the keys, tables and array elements of one TOML document."""

    def __init__(self, text: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        self._text = text
        self._pos = 0
        self._line = 1
        self._array_last: dict[KeyPath, int] = {}
        try:
            self._document()
        except (_Stop, IndexError):
            pass
        del self._text

    def line(self, path: KeyPath) -> int:
        """The line of ``path``, else of its nearest recorded parent, else 1."""
        for end in range(len(path), 0, -1):
            found = self._lines.get(path[:end])
            if found is not None:
                return found
        return 1

    def has(self, path: KeyPath) -> bool:
        return path in self._lines

    def __len__(self) -> int:
        return len(self._lines)

    # ---- recording -------------------------------------------------------------------------------
    def _record(self, path: KeyPath, line: int) -> None:
        # The first mention of a table is where it is defined; parents a header creates implicitly
        # get the header's line unless they already have one.
        for end in range(1, len(path) + 1):
            self._lines.setdefault(path[:end], line)

    # ---- scanning --------------------------------------------------------------------------------
    def _peek(self, offset: int = 0) -> str:
        index = self._pos + offset
        return self._text[index] if index < len(self._text) else ""

    def _advance(self, count: int = 1) -> None:
        chunk = self._text[self._pos:self._pos + count]
        self._line += chunk.count("\n")
        self._pos += count

    def _skip_blank(self, *, newlines: bool) -> None:
        """Skip spaces and tabs (and newlines and comments when ``newlines``)."""
        while self._pos < len(self._text):
            char = self._text[self._pos]
            if char in " \t\r":
                self._pos += 1
            elif char == "\n" and newlines:
                self._advance()
            elif char == "#":
                end = self._text.find("\n", self._pos)
                self._pos = len(self._text) if end < 0 else end
            else:
                return

    def _document(self) -> None:
        current: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self._pos >= len(self._text):
                return
            line = self._line
            if self._peek() == "[":
                if self._peek(1) == "[":
                    self._advance(2)
                    keys = self._key()
                    self._expect("]")
                    self._expect("]")
                    array = (*self._resolve(keys[:-1]), keys[-1])
                    index = self._array_last.get(array, -1) + 1
                    self._array_last[array] = index
                    current = (*array, index)
                else:
                    self._advance()
                    keys = self._key()
                    self._expect("]")
                    current = self._resolve(keys)
                self._record(current, line)
                continue
            keys = self._key()
            path = current + keys
            self._record(path, line)
            self._expect("=")
            self._value(path)

    def _resolve(self, keys: KeyPath) -> KeyPath:
        """A header's keys with the current index of every array of tables on the way."""
        out: list[str | int] = []
        for key in keys:
            out.append(key)
            last = self._array_last.get(tuple(out))
            if last is not None:
                out.append(last)
        return tuple(out)

    def _expect(self, char: str) -> None:
        self._skip_blank(newlines=False)
        if self._peek() != char:
            raise _Stop
        self._advance()

    def _key(self) -> KeyPath:
        """A dotted key: bare, "basic" or 'literal' parts separated by dots."""
        parts: list[str | int] = []
        while True:
            self._skip_blank(newlines=False)
            char = self._peek()
            if char == '"':
                parts.append(self._basic_key())
            elif char == "'":
                end = self._text.find("'", self._pos + 1)
                if end < 0:
                    raise _Stop
                parts.append(self._text[self._pos + 1:end])
                self._pos = end + 1
            else:
                start = self._pos
                while self._peek() and self._peek() in _BARE:
                    self._pos += 1
                if self._pos == start:
                    raise _Stop
                parts.append(self._text[start:self._pos])
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return tuple(parts)
            self._advance()

    def _basic_key(self) -> str:
        start = self._pos
        self._pos += 1
        while True:
            char = self._peek()
            if char == "":
                raise _Stop
            if char == "\\":
                self._pos += 2
                continue
            self._pos += 1
            if char == '"':
                break
        raw = self._text[start:self._pos]
        try:
            decoded = json.loads(raw)
        except ValueError:
            return raw[1:-1]
        return decoded if isinstance(decoded, str) else raw[1:-1]

    def _value(self, path: KeyPath) -> None:
        self._skip_blank(newlines=False)
        char = self._peek()
        if self._text.startswith('"""', self._pos):
            self._multiline_string('"""', escapes=True)
        elif self._text.startswith("'''", self._pos):
            self._multiline_string("'''", escapes=False)
        elif char == '"':
            self._basic_key()  # same lexical rules as a basic string
        elif char == "'":
            end = self._text.find("'", self._pos + 1)
            if end < 0:
                raise _Stop
            self._pos = end + 1
        elif char == "[":
            self._array(path)
        elif char == "{":
            self._inline_table(path)
        else:
            start = self._pos
            while self._peek() and self._peek() not in _SCALAR_END:
                self._pos += 1
            if self._pos == start:
                raise _Stop

    def _multiline_string(self, quotes: str, *, escapes: bool) -> None:
        self._pos += 3
        while True:
            if self._pos >= len(self._text):
                raise _Stop
            char = self._text[self._pos]
            if escapes and char == "\\":
                self._advance(2)
                continue
            if self._text.startswith(quotes, self._pos):
                self._pos += 3
                # Up to two quote characters may close the content just before the delimiter.
                extra = 0
                while extra < 2 and self._peek() == quotes[0]:
                    self._pos += 1
                    extra += 1
                return
            self._advance()

    def _array(self, path: KeyPath) -> None:
        self._advance()
        index = 0
        while True:
            self._skip_blank(newlines=True)
            if self._peek() == "]":
                self._advance()
                return
            element = (*path, index)
            self._record(element, self._line)
            self._value(element)
            index += 1
            self._skip_blank(newlines=True)
            if self._peek() == ",":
                self._advance()
            elif self._peek() != "]":
                raise _Stop

    def _inline_table(self, path: KeyPath) -> None:
        self._advance()
        while True:
            self._skip_blank(newlines=False)
            if self._peek() == "}":
                self._advance()
                return
            line = self._line
            keys = self._key()
            self._record(path + keys, line)
            self._expect("=")
            self._value(path + keys)
            self._skip_blank(newlines=False)
            if self._peek() == ",":
                self._advance()
            elif self._peek() != "}":
                raise _Stop
