"""text/plain (0) and application/octet-stream (42): one value, typed by the model."""

from __future__ import annotations

import pytest
from codec_strategies import Case, device_models, single_value_cases
from hypothesis import given, settings

from agent.core.codecs import decoder_for
from agent.core.codecs.opaque import OPAQUE
from agent.core.codecs.text import TEXT
from agent.core.errors import CodecError, NotAcceptable, UnsupportedContentFormat
from agent.core.model import ModelRegistry, ObjectLink, ResourceType
from agent.core.path import Path
from agent.core.values import ResourceValue as RV

MODELS = device_models()


@pytest.mark.parametrize(("path", "value", "text"), [
    (Path(3, 0, 0), "Open Mobile Alliance", b"Open Mobile Alliance"),
    (Path(3, 0, 9), 100, b"100"),
    (Path(3, 0, 7, 1), 5000, b"5000"),
    (Path(3, 0, 13), 1367491215, b"1367491215"),
    (Path(1, 0, 6), True, b"1"),
    (Path(1, 0, 6), False, b"0"),
    (Path(3303, 0, 5700), 21.5, b"21.5"),
    (Path(5, 0, 0), b"\x01\x02\x03\x04\x05", b"AQIDBAU="),
    (Path(66, 0, 2), ObjectLink(3, 0), b"3:0"),
])
def test_known_values(path: Path, value: object, text: bytes) -> None:
    assert TEXT.encode(path, [RV(path, value)], MODELS) == text  # type: ignore[arg-type]
    assert TEXT.decode(text, path, MODELS) == [RV(path, value)]  # type: ignore[arg-type]


def test_decoding_follows_the_model_type() -> None:
    assert TEXT.decode(b"21", Path(3303, 0, 5700), MODELS) == [RV(Path(3303, 0, 5700), 21.0)]
    assert type(TEXT.decode(b"21", Path(3303, 0, 5700), MODELS)[0].value) is float
    assert TEXT.decode(b"true", Path(1, 0, 6), MODELS) == [RV(Path(1, 0, 6), True)]


def test_encoding_follows_the_model_type() -> None:
    assert TEXT.encode(Path(3303, 0, 5700), [RV(Path(3303, 0, 5700), 21)], MODELS) == b"21.0"


@settings(max_examples=200, deadline=None)
@given(single_value_cases())
def test_text_round_trip(case: Case) -> None:
    payload = TEXT.encode(case.base, case.values, case.models)
    decoded = TEXT.decode(payload, case.base, case.models)
    assert decoded == case.values
    assert type(decoded[0].value) is type(case.values[0].value)


@settings(max_examples=100, deadline=None)
@given(single_value_cases([ResourceType.OPAQUE]))
def test_opaque_round_trip(case: Case) -> None:
    payload = OPAQUE.encode(case.base, case.values, case.models)
    assert payload == case.values[0].value
    assert OPAQUE.decode(payload, case.base, case.models) == case.values


def test_formats_are_registered() -> None:
    assert decoder_for(0) is TEXT
    assert decoder_for(42) is OPAQUE


# ---- what a single-value format cannot carry ----------------------------------------------------

@pytest.mark.parametrize("codec", [TEXT, OPAQUE])
def test_encoding_more_than_one_value_is_not_acceptable(codec: object) -> None:
    encode = codec.encode  # type: ignore[attr-defined]
    with pytest.raises(NotAcceptable, match="not a resource"):
        encode(Path(3, 0), [RV(Path(3, 0, 0), "x")], MODELS)
    with pytest.raises(NotAcceptable, match="exactly one value"):
        encode(Path(3, 0, 6), [RV(Path(3, 0, 6, 0), 1), RV(Path(3, 0, 6, 1), 5)], MODELS)
    with pytest.raises(NotAcceptable, match="exactly one value"):
        encode(Path(3, 0, 6), [RV(Path(3, 0, 6, 0), 1)], MODELS)
    with pytest.raises(NotAcceptable, match="exactly one value"):
        encode(Path(5, 0, 0), [], MODELS)


def test_opaque_refuses_other_types() -> None:
    with pytest.raises(NotAcceptable, match="only Opaque"):
        OPAQUE.encode(Path(3, 0, 0), [RV(Path(3, 0, 0), "x")], MODELS)
    with pytest.raises(UnsupportedContentFormat) as caught:
        OPAQUE.decode(b"x", Path(3, 0, 0), MODELS)
    assert caught.value.code == (4, 15)


@pytest.mark.parametrize(("payload", "path", "message"), [
    (b"abc", Path(3, 0, 9), "'abc' is not a valid Integer"),
    (b"1.5", Path(3, 0, 9), "not a valid Integer"),
    (b"2", Path(1, 0, 6), "not a valid Boolean"),
    (b"-1", Path(9, 0, 0), "no object model"),
    (b"!!notbase64$", Path(5, 0, 0), "not a valid Opaque"),
    (b"3-0", Path(66, 0, 2), "not a valid Objlnk"),
    (b"70000:0", Path(66, 0, 2), "not a valid Objlnk"),
    (b"\xff\xfe", Path(3, 0, 0), "not UTF-8"),
    (b"x", Path(3, 0), "not a resource"),
    (b"x", Path(), "not a resource"),
    (b"1", Path(3, 0, 6), "multiple-instance resource"),
    (b"1", Path(3, 0, 9, 0), "single-instance resource"),
])
def test_bad_text_is_a_codec_error(payload: bytes, path: Path, message: str) -> None:
    with pytest.raises(CodecError) as caught:
        TEXT.decode(payload, path, MODELS)
    assert message in caught.value.message
    assert caught.value.code == (4, 0)


def test_unknown_model_cannot_decode_but_can_encode() -> None:
    with pytest.raises(CodecError, match="no object model"):
        OPAQUE.decode(b"x", Path(9, 0, 0), ModelRegistry())
    assert TEXT.encode(Path(9, 0, 0), [RV(Path(9, 0, 0), 7)], ModelRegistry()) == b"7"
    assert OPAQUE.encode(Path(9, 0, 0), [RV(Path(9, 0, 0), b"\x00")], ModelRegistry()) == b"\x00"
