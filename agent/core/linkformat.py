"""CoRE link format (RFC 6690, content format 40): ``</3/0>;ver=1.1,</3/0/1>;pmin=10``.

LwM2M uses it for the Register and Update payloads (the objects and instances a client has), for
Discover answers (with the attached notification attributes) and for Bootstrap-Discover. Both the
agent and the emulator's server read and write it, so the formatter and the parser live here, in
the pure core.

A :class:`Link` keeps its attributes in order (a dict); a bare attribute such as ``obs`` has the
value None. Values are written unquoted when they are tokens and quoted otherwise; ``rt``, ``if``,
``title`` and ``anchor`` are always quoted, as RFC 6690 and the LwM2M examples write them
(``</>;rt="oma.lwm2m"``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import CodecError

# RFC 6690 §2: ptokenchar, the characters an unquoted value may hold.
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PTOKEN = frozenset("!#$%&'()*+-./:<=>?@[]^_`{|}~" + _ALNUM)
# RFC 5987 attr-char: the characters of a parameter name (parmname).
_ATTR_CHAR = frozenset("!#$&+-.^_`|~" + _ALNUM)
_ALWAYS_QUOTED = frozenset({"rt", "if", "title", "anchor"})
# Attributes that hold a space-separated list: repeating one means adding to the list.
_LIST_ATTRIBUTES = frozenset({"rt", "if", "rel", "rev"})
_TARGET_FORBIDDEN = frozenset('<>" \t\r\n')


@dataclass(slots=True)
class Link:
    """One link: a target URI reference and its attributes in the order they were given."""

    target: str
    attributes: dict[str, str | None] = field(default_factory=dict)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_link(link: Link) -> str:
    if not link.target or any(c in _TARGET_FORBIDDEN or ord(c) < 0x20 for c in link.target):
        raise CodecError(f"link target {link.target!r} cannot be written in link format")
    parts = [f"<{link.target}>"]
    for name, value in link.attributes.items():
        if not name or not _ATTR_CHAR.issuperset(name):
            raise CodecError(f"link attribute name {name!r} is not a token")
        if value is None:
            parts.append(name)
        elif name in _ALWAYS_QUOTED or not value or not _PTOKEN.issuperset(value):
            parts.append(f"{name}={_quote(value)}")
        else:
            parts.append(f"{name}={value}")
    return ";".join(parts)


def format_links(links: Iterable[Link]) -> str:
    """The link-format text of ``links``; CodecError for a target or name that cannot be written."""
    return ",".join(format_link(link) for link in links)


class _Parser:
    """A cursor over link-format text; every error names the offset where it went wrong."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> CodecError:
        return CodecError(f"link format, offset {self.pos}: {what}")

    def skip_space(self) -> None:
        # RFC 6690 allows no whitespace, but servers pretty-print; space between items is harmless.
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def at(self, char: str) -> bool:
        return self.pos < len(self.text) and self.text[self.pos] == char

    def links(self) -> list[Link]:
        out: list[Link] = []
        self.skip_space()
        if self.pos == len(self.text):
            return out
        while True:
            out.append(self.link())
            self.skip_space()
            if self.pos == len(self.text):
                return out
            if not self.at(","):
                raise self.fail(f"expected ',' between links, found {self.text[self.pos]!r}")
            self.pos += 1
            self.skip_space()

    def link(self) -> Link:
        if not self.at("<"):
            raise self.fail("a link starts with '<'")
        end = self.text.find(">", self.pos + 1)
        if end < 0:
            raise self.fail("unterminated '<' (no '>')")
        target = self.text[self.pos + 1:end]
        if not target or any(c in _TARGET_FORBIDDEN or ord(c) < 0x20 for c in target):
            raise self.fail(f"bad link target {target[:60]!r}")
        self.pos = end + 1
        link = Link(target)
        while True:
            self.skip_space()
            if not self.at(";"):
                return link
            self.pos += 1
            self.skip_space()
            name, value = self.attribute()
            if name in link.attributes:
                previous = link.attributes[name]
                if name in _LIST_ATTRIBUTES and previous is not None and value is not None:
                    value = f"{previous} {value}"
                else:
                    raise self.fail(f"attribute {name!r} given twice in link <{target}>")
            link.attributes[name] = value

    def attribute(self) -> tuple[str, str | None]:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _ATTR_CHAR:
            self.pos += 1
        name = self.text[start:self.pos]
        if not name:
            raise self.fail("expected an attribute name")
        if not self.at("="):
            return name, None
        self.pos += 1
        if self.at('"'):
            return name, self.quoted()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _PTOKEN:
            self.pos += 1
        if self.pos == start:
            raise self.fail(f"attribute {name!r} has '=' but no value")
        return name, self.text[start:self.pos]

    def quoted(self) -> str:
        opening = self.pos
        self.pos += 1
        chars: list[str] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(chars)
            if char == "\\":
                self.pos += 1
                if self.pos == len(text):
                    break
                char = text[self.pos]
            chars.append(char)
            self.pos += 1
        self.pos = opening
        raise self.fail("unterminated quoted string")


def parse_links(text: str | bytes) -> list[Link]:
    """The links of a link-format payload (empty text is no links); CodecError on malformed input."""
    if isinstance(text, bytes):
        try:
            text = text.decode()
        except UnicodeDecodeError as exc:
            raise CodecError(f"link format is not UTF-8 (byte {exc.start})") from None
    return _Parser(text).links()
