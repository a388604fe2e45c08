"""SenML JSON (110) and CBOR (112): LwM2M 1.1 examples, base names, composite paths, bad input."""

from __future__ import annotations

import json
from typing import Any

import cbor2
import pytest
from codec_strategies import DEVICE_VALUES, Case, cases, device_models
from hypothesis import given, settings

from agent.core.codecs import decoder_for
from agent.core.codecs.senml import SENML_CBOR, SENML_JSON, decode_paths
from agent.core.errors import CodecError
from agent.core.formats import ContentFormat
from agent.core.model import ModelRegistry, ObjectLink
from agent.core.path import Path
from agent.core.values import ResourceValue as RV

MODELS = device_models()

# OMA-TS-LightweightM2M_Core-V1_1 §7.4.4: Read /3/0 in SenML JSON (the records the spec lists).
SPEC_DEVICE_JSON: list[dict[str, Any]] = [
    {"bn": "/3/0/", "n": "0", "vs": "Open Mobile Alliance"},
    {"n": "1", "vs": "Lightweight M2M Client"},
    {"n": "2", "vs": "345000123"},
    {"n": "3", "vs": "1.0"},
    {"n": "6/0", "v": 1},
    {"n": "6/1", "v": 5},
    {"n": "7/0", "v": 3800},
    {"n": "7/1", "v": 5000},
    {"n": "8/0", "v": 125},
    {"n": "8/1", "v": 900},
    {"n": "9", "v": 100},
    {"n": "10", "v": 15},
    {"n": "11/0", "v": 0},
    {"n": "13", "v": 1367491215},
    {"n": "14", "vs": "+02:00"},
    {"n": "16", "vs": "U"},
]
LABELS = {"bn": -2, "bt": -3, "n": 0, "v": 2, "vs": 3, "vb": 4, "t": 6, "vd": 8}


def as_cbor(records: list[dict[str, Any]]) -> bytes:
    return cbor2.dumps([{LABELS.get(k, k): v for k, v in record.items()} for record in records])


CODECS = [pytest.param(SENML_JSON, id="json"), pytest.param(SENML_CBOR, id="cbor")]


def test_formats_are_registered() -> None:
    assert decoder_for(110) is SENML_JSON
    assert decoder_for(112) is SENML_CBOR


def test_json_spec_example_both_ways() -> None:
    assert SENML_JSON.decode(json.dumps(SPEC_DEVICE_JSON).encode(), Path(3, 0), MODELS) == DEVICE_VALUES
    assert json.loads(SENML_JSON.encode(Path(3, 0), DEVICE_VALUES, MODELS)) == SPEC_DEVICE_JSON


def test_cbor_uses_the_integer_labels() -> None:
    payload = SENML_CBOR.encode(Path(3, 0), DEVICE_VALUES, MODELS)
    assert cbor2.loads(payload) == [{LABELS[k]: v for k, v in r.items()} for r in SPEC_DEVICE_JSON]
    assert SENML_CBOR.decode(payload, Path(3, 0), MODELS) == DEVICE_VALUES


def test_cbor_known_bytes_with_a_half_float() -> None:
    # [{-2: "/3303/0/", 0: "5700", 2: 21.5 (half-precision)}], written out by hand.
    payload = bytes.fromhex("81A3216" + "8" + b"/3303/0/".hex() + "0064" + b"5700".hex() + "02F94D60")
    assert SENML_CBOR.decode(payload, Path(3303, 0), MODELS) == [RV(Path(3303, 0, 5700), 21.5)]


def test_opaque_and_object_links() -> None:
    values = [RV(Path(5, 0, 0), b"\xfb\xff"), RV(Path(66, 0, 2), ObjectLink(67, 0))]
    as_json = json.loads(SENML_JSON.encode(Path(), values, MODELS))
    assert as_json == [{"bn": "/", "n": "5/0/0", "vd": "-_8"}, {"n": "66/0/2", "vlo": "67:0"}]
    as_cbor_records = cbor2.loads(SENML_CBOR.encode(Path(), values, MODELS))
    assert as_cbor_records == [{-2: "/", 0: "5/0/0", 8: b"\xfb\xff"}, {0: "66/0/2", "vlo": "67:0"}]
    # Padded and standard-alphabet base64 from other peers is read too.
    assert SENML_JSON.decode(b'[{"n":"/5/0/0","vd":"+/8="}]', Path(5), MODELS) == [values[0]]


def test_base_name_changes_mid_pack() -> None:
    payload = json.dumps([
        {"bn": "/3/0/", "n": "0", "vs": "ACME"},
        {"n": "9", "v": 80},
        {"bn": "/3303/0/", "n": "5700", "v": 21, "t": 1.5, "bt": 1700000000},
        {"bn": "/3303/0/5701", "vs": "Cel"},
        {"bn": "", "n": "/1/0/6", "vb": True},
    ]).encode()
    assert SENML_JSON.decode(payload, Path(), MODELS) == [
        RV(Path(3, 0, 0), "ACME"), RV(Path(3, 0, 9), 80), RV(Path(3303, 0, 5700), 21.0),
        RV(Path(3303, 0, 5701), "Cel"), RV(Path(1, 0, 6), True),
    ]


def test_base_value_is_added() -> None:
    payload = b'[{"bn":"/3303/0/","bv":20,"n":"5700","v":1.5},{"n":"5601","v":-2}]'
    assert SENML_JSON.decode(payload, Path(3303, 0), MODELS) == [
        RV(Path(3303, 0, 5700), 21.5), RV(Path(3303, 0, 5601), 18.0),
    ]


def test_send_of_several_objects_round_trips() -> None:
    values = [RV(Path(3303, 0, 5700), 22.5), RV(Path(3, 0, 9), 91), RV(Path(3, 0, 7, 1), 3700)]
    for codec in (SENML_JSON, SENML_CBOR):
        payload = codec.encode(Path(), values, MODELS)
        assert codec.decode(payload, Path(), MODELS) == values


def test_unknown_resources_keep_the_senml_type() -> None:
    payload = b'[{"bn":"/9/0/","n":"1","v":2},{"n":"2","vs":"3:0"},{"n":"3","vlo":"3:0"}]'
    assert SENML_JSON.decode(payload, Path(9), ModelRegistry()) == [
        RV(Path(9, 0, 1), 2), RV(Path(9, 0, 2), "3:0"), RV(Path(9, 0, 3), ObjectLink(3, 0)),
    ]


@settings(max_examples=200, deadline=None)
@given(cases(levels=(0, 1, 2, 3, 4), finite=True))
def test_json_round_trip(case: Case) -> None:
    payload = SENML_JSON.encode(case.base, case.values, case.models)
    decoded = SENML_JSON.decode(payload, case.base, case.models)
    assert decoded == case.values
    assert [type(rv.value) for rv in decoded] == [type(rv.value) for rv in case.values]


@settings(max_examples=200, deadline=None)
@given(cases(levels=(0, 1, 2, 3, 4)))
def test_cbor_round_trip(case: Case) -> None:
    payload = SENML_CBOR.encode(case.base, case.values, case.models)
    decoded = SENML_CBOR.decode(payload, case.base, case.models)
    assert decoded == case.values
    assert [type(rv.value) for rv in decoded] == [type(rv.value) for rv in case.values]


# ---- list of paths (Read-Composite, Observe-Composite) -------------------------------------------

def test_decode_paths_json_and_cbor() -> None:
    records = [{"n": "/3/0/9"}, {"bn": "/1/0/", "n": "1"}, {"n": "7"}, {"bn": "/3303"}, {"bn": "/"}]
    expected = [Path(3, 0, 9), Path(1, 0, 1), Path(1, 0, 7), Path(3303), Path()]
    assert decode_paths(json.dumps(records).encode(), ContentFormat.SENML_JSON) == expected
    assert decode_paths(as_cbor(records), ContentFormat.SENML_CBOR) == expected
    assert SENML_CBOR.decode_paths(as_cbor(records)) == expected
    with pytest.raises(CodecError, match="SenML JSON"):
        decode_paths(b"[]", ContentFormat.TLV)


def test_decode_paths_refuses_names_that_are_not_paths() -> None:
    with pytest.raises(CodecError, match="record 1: name '/3/0/temp' is not an LwM2M path"):
        decode_paths(b'[{"n":"/3/0/9"},{"bn":"/3/0/","n":"temp"}]')
    with pytest.raises(CodecError, match="record 0: no name"):
        decode_paths(b"[{}]")


# ---- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(("records", "base", "message"), [
    ({"bn": "/3/0/", "n": "9", "v": 1}, Path(3, 0), "pack is a"),
    ([[1, 2]], Path(3, 0), "record 0: a record is a map"),
    ([{"bn": "/3/0/", "n": "9", "v": 1}, 7], Path(3, 0), "record 1: a record is a map"),
    ([{"n": "/3/0/abc", "v": 1}], Path(3, 0), "'/3/0/abc' is not an LwM2M path"),
    ([{"n": "temperature", "v": 1}], Path(3, 0), "is not an LwM2M path"),
    ([{"n": "/3/0/9/0/1", "v": 1}], Path(3, 0), "is not an LwM2M path"),
    ([{"n": "/3/0/99999", "v": 1}], Path(3, 0), "out of range"),
    ([{"bn": "/3/0", "n": "9", "v": 1}], Path(3, 0), "name '/3/09' is not an LwM2M path"),
    ([{"n": "/3/1/9", "v": 1}], Path(3, 0), "not under the request path /3/0"),
    ([{"n": "/3/0", "v": 1}], Path(3), "a value belongs to a resource"),
    ([{"n": "/3/0/9"}], Path(3, 0), "has none"),
    ([{"n": "/3/0/9", "v": 1, "vs": "1"}], Path(3, 0), "has v, vs"),
    ([{"n": 9, "v": 1}], Path(3, 0), "field 'n' must be a string"),
    ([{"bn": ["/3/0/"], "n": "9", "v": 1}], Path(3, 0), "field 'bn' must be a string"),
    ([{"n": "/3/0/9", "v": 1, "t": "now"}], Path(3, 0), "field 't' must be a number"),
    ([{"n": "/3/0/9", "v": "1"}], Path(3, 0), "v must be a number"),
    ([{"n": "/3/0/9", "v": True}], Path(3, 0), "v must be a number"),
    ([{"n": "/1/0/6", "vb": 1}], Path(1, 0), "vb must be a boolean"),
    ([{"n": "/66/0/2", "vlo": "66"}], Path(66, 0), "not an object link"),
    ([{"n": "/66/0/2", "vlo": 66}], Path(66, 0), "vlo must be a string"),
    ([{"n": "/3/0/9", "vs": "100"}], Path(3, 0), "not of type Integer"),
    ([{"n": "/3/0/9", "v": 1.5}], Path(3, 0), "not of type Integer"),
    ([{"n": "/3/0/0", "v": 1}], Path(3, 0), "not of type String"),
    ([{"n": "/5/0/0", "vs": "AQ=="}], Path(5, 0), "not of type Opaque"),
    ([{"n": "/3/0/9", "v": 1, "foo_": 1}], Path(3, 0), "must-understand field 'foo_'"),
])
def test_bad_packs_are_codec_errors(codec: Any, records: Any, base: Path, message: str) -> None:
    if codec is SENML_JSON:
        payload = json.dumps(records).encode()
    else:
        payload = (as_cbor(records) if isinstance(records, list) and all(isinstance(r, dict) for r in records)
                   else cbor2.dumps(records))
    with pytest.raises(CodecError) as caught:
        codec.decode(payload, base, MODELS)
    assert message in caught.value.message


@pytest.mark.parametrize(("payload", "message"), [
    (b"", "not valid JSON"),
    (b"[{]", "not valid JSON"),
    (b"[" * 50000, "not valid JSON"),
    (b'[{"n":"/5/0/0","vd":"***"}]', "not base64"),
    (b'[{"n":"/5/0/0","vd":7}]', "vd must be a base64url string"),
    (b'{"e":[]}', "a pack is a JSON array"),
])
def test_bad_json(payload: bytes, message: str) -> None:
    with pytest.raises(CodecError) as caught:
        SENML_JSON.decode(payload, Path(5, 0), MODELS)
    assert message in caught.value.message


@pytest.mark.parametrize(("payload", "message"), [
    (b"", "not valid CBOR"),
    (b"\xff", "not valid CBOR"),
    (bytes.fromhex("81A2006361"), "not valid CBOR"),                      # truncated text string
    (bytes.fromhex("815BFFFFFFFFFFFFFF00"), "not valid CBOR"),           # byte string of 2**64 bytes declared
    (bytes.fromhex("9BFFFFFFFFFFFFFFFF"), "not valid CBOR"),             # array of 2**64 items declared
    (b"\x81" * 100000 + b"\x00", "not valid CBOR"),                      # nesting far too deep
    (bytes.fromhex("80") + b"\x00", "1 stray bytes after the pack at offset 1"),
    (bytes.fromhex("A0"), "a pack is a CBOR array"),
    (bytes.fromhex("8101"), "a record is a map"),
    (cbor2.dumps([{0: "/5/0/0", 8: "AQ=="}]), "vd must be a byte string"),
    (cbor2.dumps([{0: "/5/0/0", 1.5: b"x", 8: b"x"}]), "neither a label nor a name"),
    (cbor2.dumps([{0: "/5/0/0", True: b"x", 8: b"x"}]), "neither a label nor a name"),
    (cbor2.dumps([{-2: cbor2.CBORTag(32, "/5/0/"), 0: "0", 8: b"x"}]), "field 'bn' must be a string"),
    (cbor2.dumps([{0: "/5/0/0", 8: b"x", 6: cbor2.undefined}]), "field 't' must be a number"),
])
def test_bad_cbor(payload: bytes, message: str) -> None:
    with pytest.raises(CodecError) as caught:
        SENML_CBOR.decode(payload, Path(5, 0), MODELS)
    assert message in caught.value.message


def test_unknown_cbor_labels_are_ignored_and_text_keys_accepted() -> None:
    payload = cbor2.dumps([{0: "/3/0/9", 2: 80, 99: "extension"}, {"n": "/3/0/10", "v": 7}])
    assert SENML_CBOR.decode(payload, Path(3, 0), MODELS) == [RV(Path(3, 0, 9), 80), RV(Path(3, 0, 10), 7)]


def test_encode_refusals() -> None:
    with pytest.raises(CodecError, match="non-finite"):
        SENML_JSON.encode(Path(3303, 0), [RV(Path(3303, 0, 5700), float("nan"))], MODELS)
    for codec in (SENML_JSON, SENML_CBOR):
        with pytest.raises(CodecError, match="not a resource under /3/0"):
            codec.encode(Path(3, 0), [RV(Path(3, 1, 9), 1)], MODELS)
        with pytest.raises(CodecError, match="not a resource under"):
            codec.encode(Path(3), [RV(Path(3, 0), 1)], MODELS)
        with pytest.raises(CodecError, match="cannot encode a list"):
            codec.encode(Path(3, 0), [RV(Path(3, 0, 9), [1])], MODELS)  # type: ignore[arg-type]
    # Infinity is fine in CBOR.
    payload = SENML_CBOR.encode(Path(3303, 0), [RV(Path(3303, 0, 5700), float("inf"))], MODELS)
    assert SENML_CBOR.decode(payload, Path(3303, 0), MODELS) == [RV(Path(3303, 0, 5700), float("inf"))]
