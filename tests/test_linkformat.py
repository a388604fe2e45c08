"""CoRE link format: the LwM2M registration and discover payloads, quoting, round trips, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.core.errors import CodecError
from agent.core.linkformat import Link, format_links, parse_links

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def test_registration_payload() -> None:
    links = [Link("/", {"rt": "oma.lwm2m", "ct": "11543"}), Link("/1/0"), Link("/3/0")]
    text = '</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>'
    assert format_links(links) == text
    assert parse_links(text) == links


def test_discover_payload_with_attributes_and_a_bare_one() -> None:
    links = [Link("/3/0", {"ver": "1.1"}), Link("/3/0/1", {"pmin": "10"}),
             Link("/3/0/9", {"obs": None, "dim": "2"})]
    text = "</3/0>;ver=1.1,</3/0/1>;pmin=10,</3/0/9>;obs;dim=2"
    assert format_links(links) == text
    parsed = parse_links(text)
    assert parsed == links
    assert list(parsed[2].attributes) == ["obs", "dim"]


def test_values_that_are_not_tokens_are_quoted() -> None:
    links = [Link("/", {"ct": "60 110 112", "title": "a, b; \"c\" \\ d", "empty": ""})]
    text = format_links(links)
    assert text == '</>;ct="60 110 112";title="a, b; \\"c\\" \\\\ d";empty=""'
    assert parse_links(text) == links


def test_quoted_commas_and_semicolons_do_not_split() -> None:
    text = '</a>;title="x, y; z",</b>;rt="one two"'
    assert parse_links(text) == [Link("/a", {"title": "x, y; z"}), Link("/b", {"rt": "one two"})]


def test_leshan_corelnk_example() -> None:
    text = ('</>;rt="oma.lwm2m";ct="60 110 112 1542 1543 11542 11543",</1>;ver=1.1,</1/0>,</2>,</3>;ver=1.1,'
            "</3/0>,</3442/0>")
    links = parse_links(text)
    assert [link.target for link in links] == ["/", "/1", "/1/0", "/2", "/3", "/3/0", "/3442/0"]
    assert [len(link.attributes) for link in links] == [2, 1, 0, 0, 1, 0, 0]
    assert links[0].attributes["ct"] == "60 110 112 1542 1543 11542 11543"


def test_tolerated_variations() -> None:
    assert parse_links("") == []
    assert parse_links(b"</1/0>") == [Link("/1/0")]
    assert parse_links(" </1/0> ;\tpmin=1 ,\n</3/0>") == [Link("/1/0", {"pmin": "1"}), Link("/3/0")]
    assert parse_links('</a>;rt="x";rt="y"') == [Link("/a", {"rt": "x y"})]


@pytest.mark.parametrize(("text", "message"), [
    ("/1/0", "offset 0: a link starts with '<'"),
    ("</1/0", "unterminated '<'"),
    ("<>", "bad link target"),
    ("</a b>", "bad link target"),
    ("</1/0>;", "expected an attribute name"),
    ("</1/0>;;pmin=1", "expected an attribute name"),
    ("</1/0>;pmin=", "'pmin' has '=' but no value"),
    ('</1/0>;title="abc', "unterminated quoted string"),
    ('</1/0>;title="abc\\', "unterminated quoted string"),
    ("</1/0>;pmin=1 2", "expected ',' between links"),
    ("</1/0></3/0>", "expected ',' between links"),
    ("</1/0>,", "a link starts with '<'"),
    ("</1/0>;pmin=1;pmin=2", "'pmin' given twice"),
    ("</1/0>;pmin=1,,</3/0>", "offset 14: a link starts with '<'"),
])
def test_malformed_text_is_a_codec_error(text: str, message: str) -> None:
    with pytest.raises(CodecError) as caught:
        parse_links(text)
    assert message in caught.value.message


def test_non_utf8_bytes_are_a_codec_error() -> None:
    with pytest.raises(CodecError, match="not UTF-8"):
        parse_links(b"</\xff>")


def test_unwritable_links_are_refused() -> None:
    with pytest.raises(CodecError, match="target"):
        format_links([Link("/a>b")])
    with pytest.raises(CodecError, match="attribute name"):
        format_links([Link("/a", {"p min": "1"})])


targets = st.text(alphabet=ALNUM + "/-._~:?#[]@!$&()*+,;=%", min_size=1, max_size=20)
names = st.text(alphabet=ALNUM + "!#$&+-.^_`|~", min_size=1, max_size=8)
values = st.none() | st.text(max_size=20) | st.integers(0, 10**6).map(str)
links = st.builds(Link, targets, st.dictionaries(names, values, max_size=5))


@settings(max_examples=200, deadline=None)
@given(st.lists(links, max_size=5))
def test_round_trip(original: list[Link]) -> None:
    parsed = parse_links(format_links(original))
    assert parsed == original
    assert [list(link.attributes) for link in parsed] == [list(link.attributes) for link in original]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='<>/;,="\\ abc019', max_size=40) | st.text(max_size=40))
def test_any_text_parses_or_is_a_codec_error(text: str) -> None:
    try:
        parse_links(text)
    except CodecError:
        pass
