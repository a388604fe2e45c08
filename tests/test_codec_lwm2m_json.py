"""LwM2M JSON (11543): the 1.0 spec example, type fix-up by the model, round trips, bad input."""

from __future__ import annotations

import json

import pytest
from codec_strategies import DEVICE_VALUES, Case, cases, device_models
from hypothesis import given, settings

from agent.core.codecs import decoder_for
from agent.core.codecs.lwm2m_json import LWM2M_JSON
from agent.core.errors import CodecError
from agent.core.model import ModelRegistry, ObjectLink
from agent.core.path import Path
from agent.core.values import ResourceValue as RV

MODELS = device_models()

# OMA-TS-LightweightM2M-V1_0 §6.4.4: Read /3/0 in JSON.
SPEC_DEVICE = b"""{"bn":"/3/0/",
"e":[
{"n":"0","sv":"Open Mobile Alliance"},
{"n":"1","sv":"Lightweight M2M Client"},
{"n":"2","sv":"345000123"},
{"n":"3","sv":"1.0"},
{"n":"6/0","v":1},
{"n":"6/1","v":5},
{"n":"7/0","v":3800},
{"n":"7/1","v":5000},
{"n":"8/0","v":125},
{"n":"8/1","v":900},
{"n":"9","v":100},
{"n":"10","v":15},
{"n":"11/0","v":0},
{"n":"13","v":1367491215},
{"n":"14","sv":"+02:00"},
{"n":"16","sv":"U"}]
}"""


def test_decodes_the_spec_example() -> None:
    decoded = LWM2M_JSON.decode(SPEC_DEVICE, Path(3, 0), MODELS)
    assert decoded == DEVICE_VALUES
    assert all(type(a.value) is type(b.value) for a, b in zip(decoded, DEVICE_VALUES, strict=True))


def test_encodes_the_spec_example() -> None:
    assert json.loads(LWM2M_JSON.encode(Path(3, 0), DEVICE_VALUES, MODELS)) == json.loads(SPEC_DEVICE)


def test_both_content_format_numbers_reach_the_codec() -> None:
    assert decoder_for(11543) is LWM2M_JSON
    assert decoder_for(1543) is LWM2M_JSON


def test_the_model_settles_ambiguous_json_types() -> None:
    payload = json.dumps({"bn": "/", "e": [
        {"n": "3303/0/5700", "v": 21},          # Float resource, JSON integer
        {"n": "3/0/9", "v": 100.0},             # Integer resource, JSON float
        {"n": "5/0/0", "sv": "AQIDBAU="},       # Opaque as base64
        {"n": "66/0/2", "ov": "67:0"},
        {"n": "3/0/13", "v": 1367491215, "t": -5},
        {"n": "1/0/6", "bv": False},
    ], "bt": 1367491215}).encode()
    decoded = LWM2M_JSON.decode(payload, Path(), MODELS)
    assert decoded == [
        RV(Path(3303, 0, 5700), 21.0), RV(Path(3, 0, 9), 100), RV(Path(5, 0, 0), b"\x01\x02\x03\x04\x05"),
        RV(Path(66, 0, 2), ObjectLink(67, 0)), RV(Path(3, 0, 13), 1367491215), RV(Path(1, 0, 6), False),
    ]
    assert [type(rv.value) for rv in decoded] == [float, int, bytes, ObjectLink, int, bool]


def test_unknown_resources_keep_the_json_type() -> None:
    payload = b'{"bn":"/9/0/","e":[{"n":"1","v":2},{"n":"2","v":2.5},{"n":"3","sv":"AQ=="}]}'
    assert LWM2M_JSON.decode(payload, Path(9, 0), ModelRegistry()) == [
        RV(Path(9, 0, 1), 2), RV(Path(9, 0, 2), 2.5), RV(Path(9, 0, 3), "AQ=="),
    ]


def test_names_without_a_base_name_hang_off_the_request_path() -> None:
    payload = b'{"e":[{"n":"9","v":50},{"n":"/3/0/10","v":7}]}'
    assert LWM2M_JSON.decode(payload, Path(3, 0), MODELS) == [RV(Path(3, 0, 9), 50), RV(Path(3, 0, 10), 7)]
    assert LWM2M_JSON.decode(b'{"e":[{"v":50}]}', Path(3, 0, 9), MODELS) == [RV(Path(3, 0, 9), 50)]


def test_opaque_is_base64_in_sv() -> None:
    payload = LWM2M_JSON.encode(Path(5, 0, 0), [RV(Path(5, 0, 0), b"\xfb\xff")], MODELS)
    assert json.loads(payload) == {"bn": "/5/0/", "e": [{"n": "0", "sv": "+/8="}]}


@settings(max_examples=200, deadline=None)
@given(cases(levels=(0, 1, 2, 3, 4), finite=True))
def test_round_trip(case: Case) -> None:
    payload = LWM2M_JSON.encode(case.base, case.values, case.models)
    decoded = LWM2M_JSON.decode(payload, case.base, case.models)
    assert decoded == case.values
    assert [type(rv.value) for rv in decoded] == [type(rv.value) for rv in case.values]


@pytest.mark.parametrize(("payload", "base", "message"), [
    (b"{", Path(3, 0), "not valid JSON"),
    (b"\xff\xfe\x00", Path(3, 0), "not valid JSON"),
    (b"[" * 100000, Path(3, 0), "not valid JSON"),
    (b"[]", Path(3, 0), '"e" array'),
    (b'{"bn":"/3/0/"}', Path(3, 0), '"e" array'),
    (b'{"bn":3,"e":[]}', Path(3, 0), '"bn" must be a string'),
    (b'{"bn":"/3/0/","bt":"x","e":[]}', Path(3, 0), '"bt" must be a number'),
    (b'{"bn":"/3/0/","e":[1]}', Path(3, 0), "entry 0: an entry is an object"),
    (b'{"bn":"/3/0/","e":[{"n":9,"v":1}]}', Path(3, 0), '"n" must be a string'),
    (b'{"bn":"/3/0/","e":[{"n":"9","v":1,"t":"now"}]}', Path(3, 0), '"t" must be a number'),
    (b'{"bn":"/3/0/","e":[{"n":"9"}]}', Path(3, 0), "exactly one of v, sv, bv, ov; has none"),
    (b'{"bn":"/3/0/","e":[{"n":"9","v":1,"sv":"1"}]}', Path(3, 0), "has v, sv"),
    (b'{"bn":"/3/0/","e":[{"n":"x","v":1}]}', Path(3, 0), "name '/3/0/x' is not an LwM2M path"),
    (b'{"bn":"/3//0/","e":[{"n":"9","v":1}]}', Path(3, 0), "is not an LwM2M path"),
    (b'{"bn":"/3/0/","e":[{"n":"70000","v":1}]}', Path(3, 0), "out of range"),
    (b'{"bn":"/3/1/","e":[{"n":"9","v":1}]}', Path(3, 0), "not under the request path /3/0"),
    (b'{"bn":"/3/","e":[{"n":"0","v":1}]}', Path(3), "a value belongs to a resource"),
    (b'{"bn":"/3/0/","e":[{"n":"9","v":"100"}]}', Path(3, 0), '"v" must be a number'),
    (b'{"bn":"/3/0/","e":[{"n":"9","v":true}]}', Path(3, 0), '"v" must be a number'),
    (b'{"bn":"/3/0/","e":[{"n":"9","v":1.5}]}', Path(3, 0), "not of type Integer"),
    (b'{"bn":"/3/0/","e":[{"n":"9","sv":"100"}]}', Path(3, 0), "not of type Integer"),
    (b'{"bn":"/3/0/","e":[{"n":"9","bv":1}]}', Path(3, 0), '"bv" must be true or false'),
    (b'{"bn":"/1/0/","e":[{"n":"0","v":-1e999}]}', Path(1, 0), "not of type Integer"),
    (b'{"bn":"/5/0/","e":[{"n":"0","sv":"!!"}]}', Path(5, 0), "not base64"),
    (b'{"bn":"/66/0/","e":[{"n":"2","ov":"67"}]}', Path(66, 0), "not an object link"),
    (b'{"bn":"/66/0/","e":[{"n":"2","ov":6700}]}', Path(66, 0), '"ov" must be a string'),
    (b'{"bn":"/66/0/","e":[{"n":"0","ov":"67:0"}]}', Path(66, 0), "not of type String"),
])
def test_bad_payloads_are_codec_errors(payload: bytes, base: Path, message: str) -> None:
    with pytest.raises(CodecError) as caught:
        LWM2M_JSON.decode(payload, base, MODELS)
    assert message in caught.value.message


def test_non_finite_floats_cannot_be_encoded() -> None:
    with pytest.raises(CodecError, match="non-finite"):
        LWM2M_JSON.encode(Path(3303, 0), [RV(Path(3303, 0, 5700), float("inf"))], MODELS)
