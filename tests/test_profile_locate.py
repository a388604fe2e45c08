"""Line numbers of TOML keys (agent.profiles.locate): hand-written cases and generated documents."""

from __future__ import annotations

import json
import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.profiles.locate import KeyPath, LineIndex, format_path

DOC = '''\
# a comment line
description = "multi # not a comment"

[server]
uri = "coap://h:5683"   # trailing comment
text = """
fake = 1
[not.a.table]
"""
lit = \'\'\'
also = "not a key"\'\'\'

[objects."3303".0]
system = "cpu_temperature"
resources.5700 = { kind = "serial_line", port = "/dev/x" }

[objects.3303.1.resources.5700]
kind = "simulated"
choices = [
  "a",
  { x = 1 },
]

[[sigfox.fields]]
path = "/3/0/0"

[[sigfox.fields]]
path = "/3/0/1"
'''


def test_lines_of_tables_keys_inline_tables_and_arrays() -> None:
    index = LineIndex(DOC)
    assert index.line(("description",)) == 2
    assert index.line(("server",)) == 4
    assert index.line(("server", "uri")) == 5
    assert index.line(("server", "text")) == 6
    assert index.line(("server", "lit")) == 10
    assert not index.has(("fake",)) and not index.has(("not",)) and not index.has(("server", "also"))
    assert index.line(("objects", "3303", "0")) == 13
    assert index.line(("objects", "3303", "0", "system")) == 14
    assert index.line(("objects", "3303", "0", "resources", "5700", "port")) == 15
    assert index.line(("objects", "3303", "1", "resources", "5700", "kind")) == 18
    assert index.line(("objects", "3303", "1", "resources", "5700", "choices", 0)) == 20
    assert index.line(("objects", "3303", "1", "resources", "5700", "choices", 1, "x")) == 21
    assert index.line(("sigfox", "fields", 0, "path")) == 25
    assert index.line(("sigfox", "fields", 1)) == 27
    assert index.line(("sigfox", "fields", 1, "path")) == 28


def test_unknown_paths_fall_back_to_the_nearest_parent() -> None:
    index = LineIndex(DOC)
    # An implicit parent takes the line of the first header that mentions it.
    assert index.line(("objects",)) == 13
    assert index.line(("objects", "3303", "0", "resources", "9999", "kind")) == 15
    assert index.line(("server", "missing")) == 4
    assert index.line(("nowhere",)) == 1


def test_format_path() -> None:
    assert format_path(("objects", "3303", "0", "resources", "5700", "kind")) == "objects.3303.0.resources.5700.kind"
    assert format_path(("sigfox", "fields", 1, "format")) == "sigfox.fields[1].format"
    assert format_path(("a b", "c.d")) == '"a b"."c.d"'


@given(st.text(max_size=300))
@settings(max_examples=200)
def test_never_raises_on_any_text(text: str) -> None:
    index = LineIndex(text)
    assert index.line(("anything", 1)) >= 1


# ---- generated documents --------------------------------------------------------------------------

_bare = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=6)
_quoted = st.text(alphabet="ab .#[]=\"'", min_size=1, max_size=5)
_key = st.one_of(_bare, _bare, _quoted)
_one_line = st.one_of(
    st.integers(-1000, 1000).map(str), st.booleans().map(lambda b: "true" if b else "false"),
    st.text(alphabet="ab #=[]{}", max_size=6).map(json.dumps), st.just("1979-05-27T07:32:00Z"),
)
_scalar = st.one_of(_one_line, st.just('"""\nx = 1\n[t]\n"""'), st.just("'''a\n''b'''"))


def _render_key(key: str) -> str:
    return key if all(c in "abcdefghijklmnopqrstuvwxyz0123456789_-" for c in key) else json.dumps(key)


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, dict[KeyPath, int]]:
    """A TOML document with the line each of its keys (and array elements) is written on."""
    lines: list[str] = []
    expected: dict[KeyPath, int] = {}

    def emit(text: str) -> int:
        start = len(lines) + 1
        lines.extend(text.split("\n"))
        return start

    def body(prefix: KeyPath) -> None:
        keys = draw(st.lists(_key, max_size=4, unique=True))
        for key in keys:
            if draw(st.booleans()):
                emit(draw(st.sampled_from(["", "# note", "   "])))
            style = draw(st.sampled_from(["scalar", "scalar", "inline", "array", "dotted"]))
            path = (*prefix, key)
            if style == "scalar":
                expected[path] = emit(f"{_render_key(key)} = {draw(_scalar)}")
            elif style == "dotted":
                sub = draw(_key)
                expected[(*path, sub)] = emit(f"{_render_key(key)} . {_render_key(sub)} = {draw(_scalar)}")
            elif style == "inline":
                inner = draw(st.lists(_key, min_size=1, max_size=3, unique=True))
                text = ", ".join(f"{_render_key(k)} = {draw(_one_line)}" for k in inner)
                line = emit(f"{_render_key(key)} = {{ {text} }}")
                expected[path] = line
                for k in inner:
                    expected[(*path, k)] = line
            else:
                expected[path] = emit(f"{_render_key(key)} = [")
                for i, item in enumerate(draw(st.lists(_scalar, max_size=3))):
                    expected[(*path, i)] = emit(f"  {item},")
                emit("]")

    body(())
    for name in draw(st.lists(_key.map(lambda k: "t." + k), max_size=3, unique=True)):
        kind = draw(st.sampled_from(["table", "array"]))
        if kind == "table":
            expected[(name,)] = emit(f"[{_render_key(name)}]")
            body((name,))
        else:
            for i in range(draw(st.integers(1, 2))):
                expected[(name, i)] = emit(f"[[ {_render_key(name)} ]]")
                body((name, i))
    return "\n".join(lines) + "\n", expected


@given(documents())
@settings(max_examples=150)
def test_generated_documents_map_every_key_to_its_line(doc: tuple[str, dict[KeyPath, int]]) -> None:
    text, expected = doc
    data = tomllib.loads(text)  # the generator writes valid TOML
    index = LineIndex(text)
    for path, line in expected.items():
        node: object = data
        for part in path:
            assert isinstance(node, (dict, list))
            node = node[part]  # type: ignore[index]
        assert index.line(path) == line, (path, text)
