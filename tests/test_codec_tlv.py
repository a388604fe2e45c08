"""LwM2M TLV: the spec's own examples byte for byte, round trips over random models, bad input."""

from __future__ import annotations

import pytest
from codec_strategies import DEVICE_VALUES, Case, cases, device_models
from hypothesis import given, settings

from agent.core.codecs import decoder_for, encoder_for
from agent.core.codecs.tlv import TLV, instance_ids
from agent.core.errors import CodecError, NotAcceptable
from agent.core.formats import ContentFormat
from agent.core.model import ModelRegistry, ObjectLink
from agent.core.path import Path
from agent.core.values import ResourceValue as RV

MODELS = device_models()

# OMA-TS-LightweightM2M-V1_0 §6.4.3.1: Read /3/0 answered as resource TLVs.
SPEC_DEVICE = bytes.fromhex(
    "C800144F70656E204D6F62696C6520416C6C69616E6365"
    "C801164C69676874776569676874204D324D20436C69656E74"
    "C80209333435303030313233"
    "C303312E30"
    "86064100014101 05"
    "88070842000ED842011388"
    "870841007D42010384"
    "C10964"
    "C10A0F"
    "830B410000"
    "C40D5182428F"
    "C60E2B30323A3030"
    "C11055"
)
# §6.4.3.2 A): the same instance wrapped in its object-instance TLV.
SPEC_DEVICE_WRAPPED = bytes.fromhex("080079") + SPEC_DEVICE
# §6.4.3.2 B): two instances of Access Control (object 2).
SPEC_ACL = bytes.fromhex("08000EC10001C101008302417F07C1037F080212C10003C101008702417F0761013601C1037F")
# §6.4.3.2 C): one instance of Server (object 1).
SPEC_SERVER = bytes.fromhex("08000FC10001C40100015180C10601C10755")
# §6.4.3.3: object links, a multiple Objlnk resource (object 65) and two instances of object 66.
SPEC_OBJ65 = bytes.fromhex("88000C440000420000440100420001C8010D38363133383030373535353030C40212345678")
SPEC_OBJ66 = bytes.fromhex(
    "080026C8000B6D79536572766963652031C8010F496E7465726E65742E31352E323334C40200430000"
    "080126C8000B6D79536572766963652032C8010F496E7465726E65742E31352E323335C402FFFFFFFF"
)

ACL_VALUES = [
    RV(Path(2, 0, 0), 1), RV(Path(2, 0, 1), 0), RV(Path(2, 0, 2, 127), 7), RV(Path(2, 0, 3), 127),
    RV(Path(2, 2, 0), 3), RV(Path(2, 2, 1), 0), RV(Path(2, 2, 2, 127), 7), RV(Path(2, 2, 2, 310), 1),
    RV(Path(2, 2, 3), 127),
]
SERVER_VALUES = [
    RV(Path(1, 0, 0), 1), RV(Path(1, 0, 1), 86400), RV(Path(1, 0, 6), True), RV(Path(1, 0, 7), "U"),
]
OBJ65_VALUES = [
    RV(Path(65, 0, 0, 0), ObjectLink(66, 0)), RV(Path(65, 0, 0, 1), ObjectLink(66, 1)),
    RV(Path(65, 0, 1), "8613800755500"), RV(Path(65, 0, 2), 0x12345678),
]
OBJ66_VALUES = [
    RV(Path(66, 0, 0), "myService 1"), RV(Path(66, 0, 1), "Internet.15.234"),
    RV(Path(66, 0, 2), ObjectLink(67, 0)),
    RV(Path(66, 1, 0), "myService 2"), RV(Path(66, 1, 1), "Internet.15.235"),
    RV(Path(66, 1, 2), ObjectLink(65535, 65535)),
]


# ---- the specification's examples --------------------------------------------------------------

@pytest.mark.parametrize(("payload", "base", "expected"), [
    (SPEC_DEVICE, Path(3, 0), DEVICE_VALUES),
    (SPEC_DEVICE_WRAPPED, Path(3, 0), DEVICE_VALUES),
    (SPEC_DEVICE_WRAPPED, Path(3), DEVICE_VALUES),
    (SPEC_ACL, Path(2), ACL_VALUES),
    (SPEC_SERVER, Path(1), SERVER_VALUES),
    (SPEC_OBJ65, Path(65, 0), OBJ65_VALUES),
    (SPEC_OBJ66, Path(66), OBJ66_VALUES),
])
def test_decodes_the_spec_examples(payload: bytes, base: Path, expected: list[RV]) -> None:
    decoded = TLV.decode(payload, base, MODELS)
    assert decoded == expected
    assert [type(rv.value) for rv in decoded] == [type(rv.value) for rv in expected]


@pytest.mark.parametrize(("base", "values", "expected"), [
    (Path(3, 0), DEVICE_VALUES, SPEC_DEVICE),
    (Path(2), ACL_VALUES, SPEC_ACL),
    (Path(1), SERVER_VALUES, SPEC_SERVER),
    (Path(65, 0), OBJ65_VALUES, SPEC_OBJ65),
    (Path(66), OBJ66_VALUES, SPEC_OBJ66),
])
def test_encodes_the_spec_examples_byte_for_byte(base: Path, values: list[RV], expected: bytes) -> None:
    assert TLV.encode(base, values, MODELS) == expected


def test_both_content_format_numbers_reach_the_codec() -> None:
    assert decoder_for(ContentFormat.TLV) is TLV
    assert decoder_for(ContentFormat.LEGACY_TLV) is TLV
    assert encoder_for(1542) is TLV


# ---- shapes at each request level --------------------------------------------------------------

def test_read_of_a_multiple_resource_is_one_multiple_resource_tlv() -> None:
    values = [RV(Path(3, 0, 6, 0), 1), RV(Path(3, 0, 6, 1), 5)]
    payload = TLV.encode(Path(3, 0, 6), values, MODELS)
    assert payload == bytes.fromhex("8606410001410105")
    assert TLV.decode(payload, Path(3, 0, 6), MODELS) == values


def test_write_to_a_multiple_resource_accepts_bare_resource_instances() -> None:
    assert TLV.decode(bytes.fromhex("410001410105"), Path(3, 0, 6), MODELS) == [
        RV(Path(3, 0, 6, 0), 1), RV(Path(3, 0, 6, 1), 5),
    ]


def test_single_resource_and_resource_instance() -> None:
    assert TLV.encode(Path(3, 0, 9), [RV(Path(3, 0, 9), 100)], MODELS) == bytes.fromhex("C10964")
    assert TLV.encode(Path(3, 0, 7, 1), [RV(Path(3, 0, 7, 1), 5000)], MODELS) == bytes.fromhex("42011388")
    assert TLV.decode(bytes.fromhex("42011388"), Path(3, 0, 7, 1), MODELS) == [RV(Path(3, 0, 7, 1), 5000)]


def test_empty_multiple_resource_round_trips() -> None:
    payload = TLV.encode(Path(3, 0, 11), [], MODELS)
    assert payload == bytes.fromhex("800B")
    assert TLV.decode(payload, Path(3, 0, 11), MODELS) == []


def test_resource_write_wrapped_in_its_instance_is_accepted() -> None:
    payload = bytes.fromhex("080003C10964")  # instance 0 wrapping resource 9 = 100
    assert TLV.decode(payload, Path(3, 0, 9), MODELS) == [RV(Path(3, 0, 9), 100)]


def test_create_with_bare_resources_comes_back_under_instance_0() -> None:
    payload = bytes.fromhex("C10001C40100015180")
    assert TLV.decode(payload, Path(1), MODELS) == [RV(Path(1, 0, 0), 1), RV(Path(1, 0, 1), 86400)]
    assert instance_ids(payload) == []
    assert instance_ids(SPEC_SERVER) == [0]
    assert instance_ids(SPEC_ACL) == [0, 2]


def test_create_of_an_empty_instance_keeps_its_id() -> None:
    payload = bytes.fromhex("080500")
    assert TLV.decode(payload, Path(1), MODELS) == []
    assert instance_ids(payload) == [5]
    with pytest.raises(CodecError):
        instance_ids(b"\x08")


@pytest.mark.parametrize(("value", "expected"), [
    (0, "C10500"), (127, "C1057F"), (128, "C2050080"), (-128, "C10580"), (-129, "C205FF7F"),
    (32768, "C40500008000"), (2**31, "C805080000000080000000"), (-(2**63), "C805088000000000000000"),
])
def test_integers_take_the_smallest_signed_size(value: int, expected: str) -> None:
    models = _one_resource_models("Integer")
    assert TLV.encode(Path(9, 0, 5), [RV(Path(9, 0, 5), value)], models).hex().upper() == expected
    assert TLV.decode(bytes.fromhex(expected), Path(9, 0, 5), models) == [RV(Path(9, 0, 5), value)]


def test_unsigned_integers_are_unsigned() -> None:
    models = _one_resource_models("Unsigned Integer")
    assert TLV.encode(Path(9, 0, 5), [RV(Path(9, 0, 5), 255)], models) == bytes.fromhex("C105FF")
    largest = TLV.encode(Path(9, 0, 5), [RV(Path(9, 0, 5), 2**64 - 1)], models)
    assert largest == bytes.fromhex("C80508" + "FF" * 8)
    assert TLV.decode(bytes.fromhex("C105FF"), Path(9, 0, 5), models) == [RV(Path(9, 0, 5), 255)]


def test_floats_use_four_bytes_only_when_exact() -> None:
    models = _one_resource_models("Float")
    assert TLV.encode(Path(9, 0, 5), [RV(Path(9, 0, 5), 1.5)], models) == bytes.fromhex("C4053FC00000")
    tenth = TLV.encode(Path(9, 0, 5), [RV(Path(9, 0, 5), 0.1)], models)
    assert tenth == bytes.fromhex("C805083FB999999999999A")
    assert TLV.decode(bytes.fromhex("C4053FC00000"), Path(9, 0, 5), models) == [RV(Path(9, 0, 5), 1.5)]
    # An integer from a peer that knows the resource as Float still goes out as a float.
    assert TLV.encode(Path(9, 0, 5), [RV(Path(9, 0, 5), 2)], models) == bytes.fromhex("C40540000000")


@pytest.mark.parametrize(("size", "header"), [(7, "C705"), (8, "C80508"), (255, "C805FF"), (256, "D0050100"),
                                              (65536, "D805010000")])
def test_length_fields_grow_with_the_value(size: int, header: str) -> None:
    models = _one_resource_models("Opaque")
    payload = TLV.encode(Path(9, 0, 5), [RV(Path(9, 0, 5), b"x" * size)], models)
    assert payload.hex().upper().startswith(header)
    assert len(payload) == len(header) // 2 + size
    assert TLV.decode(payload, Path(9, 0, 5), models) == [RV(Path(9, 0, 5), b"x" * size)]


def test_sixteen_bit_ids() -> None:
    models = _one_resource_models("Boolean", rid=5850)
    payload = TLV.encode(Path(9, 0), [RV(Path(9, 0, 5850), True)], models)
    assert payload == bytes.fromhex("E116DA01")


def test_unknown_resource_encodes_by_python_type() -> None:
    payload = TLV.encode(Path(42, 0), [RV(Path(42, 0, 1), "hi"), RV(Path(42, 0, 2), 7)], ModelRegistry())
    assert payload == bytes.fromhex("C2016869C10207")


# ---- round trips -------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(cases(levels=(1, 2, 3, 4)))
def test_round_trip(case: Case) -> None:
    payload = TLV.encode(case.base, case.values, case.models)
    decoded = TLV.decode(payload, case.base, case.models)
    assert decoded == case.values
    assert [type(rv.value) for rv in decoded] == [type(rv.value) for rv in case.values]


# ---- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("payload", "base", "message"), [
    (SPEC_DEVICE[:-1], Path(3, 0), "TLV at offset 118: declared length 1 exceeds the 0 bytes left"),
    (bytes.fromhex("C8"), Path(3, 0), "truncated identifier"),
    (bytes.fromhex("C800"), Path(3, 0), "truncated length"),
    (bytes.fromhex("D8000F"), Path(3, 0), "truncated length"),
    (bytes.fromhex("C80014") + b"short", Path(3, 0), "declared length 20 exceeds the 5 bytes left"),
    (bytes.fromhex("D800FFFFFF") + b"xy", Path(3, 0), "declared length 16777215 exceeds the 2 bytes"),
    (bytes.fromhex("0800FF"), Path(3), "TLV at offset 0: declared length 255"),
    (bytes.fromhex("080003080100"), Path(3), "offset 3: object instance TLV where a resource"),
    (bytes.fromhex("080006880003880000"), Path(3), "offset 6: multiple resource nested too deep"),
    (bytes.fromhex("410064"), Path(3, 0), "resource instance TLV where a resource was expected"),
    (bytes.fromhex("8309410064"), Path(3, 0), "/3/0/9 is a single-instance resource"),
    (bytes.fromhex("C309000064"), Path(3, 0), "Integer value has 3 bytes"),
    (bytes.fromhex("C10602"), Path(3, 0), "/3/0/6 is a multiple-instance resource"),
    (bytes.fromhex("C10964C10964"), Path(3, 0), "offset 3: resource 9 appears twice"),
    (bytes.fromhex("080003C10964080003C10964"), Path(3), "object instance 0 appears twice"),
    (bytes.fromhex("860641000141000F"), Path(3, 0), "resource instance 0 appears twice"),
    (bytes.fromhex("080103C10964"), Path(3, 0), "object instance 1 in a request for /3/0"),
    (bytes.fromhex("C10A64"), Path(3, 0, 9), "resource 10 in a request for /3/0/9"),
    (bytes.fromhex("C10964C10A0F"), Path(3, 0, 9), "one resource TLV, got 2"),
    (bytes.fromhex("C10964"), Path(), "not /"),
    (bytes.fromhex("C10564"), Path(3, 0), "/3/0/5: no object model"),
    (bytes.fromhex("C202FFFE"), Path(3, 0), "not UTF-8"),
    (bytes.fromhex("410003"), Path(3, 0, 6, 1), "resource-instance TLV with id 1"),
    (bytes.fromhex("C10602"), Path(1, 0), "Boolean value must be one byte 0 or 1"),
    (bytes.fromhex("C20601FF"), Path(1, 0), "Boolean value must be one byte 0 or 1"),
    (bytes.fromhex("C302004200"), Path(66, 0), "Objlnk value has 3 bytes"),
    (bytes.fromhex("E3164400003F"), Path(3303, 0), "Float value has 3 bytes"),
])
def test_malformed_payloads_are_codec_errors(payload: bytes, base: Path, message: str) -> None:
    with pytest.raises(CodecError) as caught:
        TLV.decode(payload, base, MODELS)
    assert message in caught.value.message


def test_every_truncation_of_the_spec_example_is_refused_or_valid() -> None:
    # A TLV stream cut at a TLV boundary is still valid; anywhere else it must be refused, not misread.
    boundaries = {0}
    pos = 0
    for chunk in ("C800144F70656E204D6F62696C6520416C6C69616E6365",
                  "C801164C69676874776569676874204D324D20436C69656E74", "C80209333435303030313233"):
        pos += len(chunk) // 2
        boundaries.add(pos)
    for cut in range(pos + 1):
        if cut in boundaries:
            assert len(TLV.decode(SPEC_DEVICE[:cut], Path(3, 0), MODELS)) == sorted(boundaries).index(cut)
        else:
            with pytest.raises(CodecError):
                TLV.decode(SPEC_DEVICE[:cut], Path(3, 0), MODELS)


def test_huge_declared_length_fails_fast_without_allocating() -> None:
    with pytest.raises(CodecError, match="16777215"):
        TLV.decode(bytes.fromhex("1800FFFFFF"), Path(3, 0), MODELS)


def test_encode_refusals() -> None:
    with pytest.raises(NotAcceptable):
        TLV.encode(Path(), DEVICE_VALUES, MODELS)
    with pytest.raises(CodecError, match="not a resource under"):
        TLV.encode(Path(3, 1), DEVICE_VALUES, MODELS)
    with pytest.raises(CodecError, match="not of type Integer"):
        TLV.encode(Path(3, 0), [RV(Path(3, 0, 9), "full")], MODELS)
    with pytest.raises(CodecError, match="64 bits"):
        TLV.encode(Path(3, 0), [RV(Path(3, 0, 9), 2**63)], MODELS)
    with pytest.raises(NotAcceptable):
        TLV.encode(Path(3, 0, 6, 0), [], MODELS)


def _one_resource_models(type_name: str, rid: int = 5) -> ModelRegistry:
    from agent.core.model import ObjectModel, Operations, ResourceModel, ResourceType

    models = ModelRegistry()
    resource = ResourceModel(rid, "r", Operations.RW, ResourceType.parse(type_name))
    models.add(ObjectModel(9, "o", {rid: resource}))
    return models
