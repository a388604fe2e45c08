"""Sigfox frames: packing, decoding as Soracom's binary parser does, the parser format and the field spec."""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from agent.core.path import Path
from agent.hardware.errors import HardwareConfigError
from agent.telemetry.sigfox import (
    FIELD_TYPES,
    MAX_FRAME_BYTES,
    SigfoxField,
    SigfoxFrameError,
    field_spec,
    frame_length,
    layout,
    pack_frame,
    parse_field_spec,
    parse_parser_format,
    parser_format,
    unpack_frame,
)

TEMP = Path(3303, 0, 5700)

# ---- vectors from published documentation ---------------------------------------------------------


def test_soracom_documented_example_decodes_as_documented() -> None:
    # Soracom's custom format page: flag:0:bool:7 temp:1:int:13:/10 humid:3:uint:8:/100; bytes 80 07 F8 5F
    # mean flag true, temp 25.5 (13 most significant bits of bytes 1-2 = 255), humid 0.95.
    fields = parse_parser_format("flag:0:bool:7 temp:1:int:13:/10 humid:3:uint:8:/100")
    decoded = unpack_frame(fields, bytes([0x80, 0x07, 0xF8, 0x5F]))
    assert decoded == {"flag": True, "temp": 25.5, "humid": 0.95}


@pytest.mark.parametrize(("format_text", "hex_data", "expected"), [
    # The Sigfox backend's own parser documentation, whose syntax Soracom's binary parser follows.
    ("int1::uint:8 int2::uint:8", "1234", {"int1": 0x12, "int2": 0x34}),
    ("b1::bool:7 b2::bool:6 i1:1:uint:16", "C01234", {"b1": True, "b2": True, "i1": 0x1234}),
    ("b1::bool:7 b2::bool:6 i1:1:uint:16:little-endian", "801234", {"b1": True, "b2": False, "i1": 0x3412}),
    ("b1::bool:7 b2::bool:6 i1:1:uint:16:little-endian i2::uint:8", "80123456",
     {"b1": True, "b2": False, "i1": 0x3412, "i2": 0x56}),
    ("str::char:6 i1::uint:16 i2::uint:32", "41424344454601234567890A",
     {"str": "ABCDEF", "i1": 0x123, "i2": 0x4567890A}),
])
def test_sigfox_parser_vectors(format_text: str, hex_data: str, expected: dict[str, object]) -> None:
    assert unpack_frame(parse_parser_format(format_text), bytes.fromhex(hex_data)) == expected


def test_pack_known_frame_and_its_console_format() -> None:
    fields = [
        parse_field_spec("/3303/0/5700", "temp:int:16:/100"),
        parse_field_spec("/3304/0/5700", "hum:uint:8"),
        parse_field_spec("/3200/0/5500", "door:bool"),
        parse_field_spec("/3200/1/5500", "window:bool"),
        parse_field_spec("/3315/0/5700", "press:float:32"),
    ]
    frame = pack_frame(fields, {"temp": -12.34, "hum": 55, "door": True, "window": True, "press": 1013.25})
    temp = (-1234).to_bytes(2, "big", signed=True)
    assert frame == temp + bytes([55, 0b1100_0000]) + struct.pack(">f", 1013.25)
    assert parser_format(fields) == (
        "temp:0:int:16:/100 hum:2:uint:8 door:3:bool:7 window:3:bool:6 press:4:float:32")
    assert unpack_frame(fields, frame) == {"temp": -12.34, "hum": 55, "door": True, "window": True,
                                           "press": 1013.25}


def test_narrow_integers_take_the_high_bits_and_following_fields_start_on_the_next_byte() -> None:
    fields = [parse_field_spec("/1/0/1", "a:int:6"), parse_field_spec("/1/0/2", "b:uint:8")]
    assert pack_frame(fields, {"a": -1, "b": 0xAB}) == bytes([0b1111_1100, 0xAB])
    assert parser_format(fields) == "a:0:int:6 b:1:uint:8"


def test_explicit_index_and_bit() -> None:
    fields = [parse_field_spec("/1/0/1", "n:2:uint:8"), parse_field_spec("/1/0/2", "f:0:bool:0")]
    assert pack_frame(fields, {"n": 7, "f": True}) == bytes([0x01, 0x00, 0x07])
    assert parser_format(fields) == "n:2:uint:8 f:0:bool:0"


# ---- values that do not fit ----------------------------------------------------------------------------


def test_out_of_range_values_are_clamped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    fields = [parse_field_spec(TEMP, "t:int:8:/10"), parse_field_spec("/1/0/2", "u:uint:4"),
              parse_field_spec("/1/0/3", "f:float:32")]
    with caplog.at_level(logging.WARNING):
        frame = pack_frame(fields, {"t": 99.0, "u": -3, "f": 1e300})
    float32_max = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]
    assert unpack_frame(fields, frame) == {"t": 12.7, "u": 0, "f": float32_max}
    assert "t: 99.0" in caplog.text and "u: -3" in caplog.text and "f: 1e+300" in caplog.text


def test_rounding_at_the_edge_stays_in_range() -> None:
    field = parse_field_spec(TEMP, "t:int:8")
    assert unpack_frame([field], pack_frame([field], {"t": 127.4})) == {"t": 127}


@pytest.mark.parametrize(("spec", "value", "message"), [
    ("t:int:16", math.nan, "NaN"),
    ("t:int:16", "warm", "not a number"),
    ("t:int:16", b"\x01", "not a number"),
    ("d:bool", "maybe", "not a boolean"),
])
def test_values_of_the_wrong_kind_are_refused(spec: str, value: object, message: str) -> None:
    field = parse_field_spec(TEMP, spec)
    with pytest.raises(SigfoxFrameError, match=message):
        pack_frame([field], {field.name: value})  # type: ignore[dict-item]


def test_missing_value_names_the_field_and_resource() -> None:
    with pytest.raises(SigfoxFrameError, match=r"no value for t \(/3303/0/5700\)"):
        pack_frame([parse_field_spec(TEMP, "t:int:16")], {})


def test_numbers_in_text_and_bools_as_numbers_are_accepted() -> None:
    fields = [parse_field_spec(TEMP, "t:int:16:/10"), parse_field_spec("/1/0/2", "b:bool"),
              parse_field_spec("/1/0/3", "c:char:3")]
    assert unpack_frame(fields, pack_frame(fields, {"t": "21.5", "b": 1, "c": "éa"})) == {
        "t": 21.5, "b": True, "c": "?a"}


def test_long_text_is_cut(caplog: pytest.LogCaptureFixture) -> None:
    field = parse_field_spec(TEMP, "c:char:2")
    with caplog.at_level(logging.WARNING):
        assert pack_frame([field], {"c": "abc"}) == b"ab"
    assert "cut to 2" in caplog.text


def test_short_frame_is_refused() -> None:
    with pytest.raises(SigfoxFrameError, match="t needs byte 1, but the frame has 1 bytes"):
        unpack_frame([parse_field_spec(TEMP, "t:int:16")], b"\x00")


# ---- bad specs and layouts ----------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "message"), [
    ("temp:int:/100", "needs its size in bits"),
    ("lat:float:32", "already a key of the Sigfox message"),
    ("temp:in:16", "neither a byte index nor a type"),
    ("temp:0:in:16", "'in' is not a type"),
    ("temp:int:65", "65 bits do not fit"),
    ("temp:int:16:*2", "operation '\\*2' is not supported"),
    ("temp:int:16:+100000/100", "not supported"),
    ("temp:int:16:7", "unexpected '7'"),
    ("temp:12:uint:8", "outside the frame"),
    ("temp:int:16:/0", "not a positive divisor"),
    ("temp:int:16:/x", "not a positive divisor"),
    ("flag:bool:/10", "takes no divisor"),
    ("flag:bool:8", "not a bool's bit"),
    ("t:int:12:little-endian", "little-endian needs whole bytes"),
    ("tem p:int:8", "not a binary parser name"),
    ("temp", "has no type"),
    ("temp:3", "has no type"),
    ("", "not a field spec"),
])
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(HardwareConfigError, match=message) as caught:
        parse_field_spec(TEMP, spec)
    assert caught.value.fix


def test_spec_path_must_be_a_resource() -> None:
    with pytest.raises(HardwareConfigError, match="not a resource"):
        parse_field_spec("/3303/0", "t:int:8")
    with pytest.raises(HardwareConfigError, match="path"):
        parse_field_spec("/temp", "t:int:8")


@pytest.mark.parametrize(("specs", "message"), [
    (["a:0:uint:16", "b:1:uint:8"], "b overlaps a at byte 1"),
    (["a:uint:64", "b:uint:32", "c:uint:8"], "c ends at byte 13, past the 12-byte Sigfox frame"),
    (["a:uint:8", "a:uint:8"], "two fields are named 'a'"),
    (["a:0:bool:7", "b:0:bool:7"], "b overlaps a"),
])
def test_bad_layouts_are_refused(specs: list[str], message: str) -> None:
    fields = [parse_field_spec(f"/1/0/{i}", spec) for i, spec in enumerate(specs)]
    with pytest.raises(HardwareConfigError, match=message):
        layout(fields)


def test_nine_index_less_bools_take_two_bytes() -> None:
    fields = [parse_field_spec(f"/1/0/{i}", f"b{i}:bool") for i in range(9)]
    assert [(slot.byte, slot.bit) for slot in layout(fields)] == [(0, 7 - i) for i in range(8)] + [(1, 7)]


# ---- properties ------------------------------------------------------------------------------------

_DIVISORS = st.sampled_from([1, 1, 1, 10, 100, 0.5, 3, 0.25])


@st.composite
def sigfox_fields(draw: st.DrawFn, name: str) -> SigfoxField:
    kind = draw(st.sampled_from(FIELD_TYPES))
    index = draw(st.none() | st.none() | st.integers(0, MAX_FRAME_BYTES - 1))
    path = Path(1, 0, draw(st.integers(0, 65535)))
    if kind == "bool":
        return SigfoxField(path, name, kind, 1, 1, index, draw(st.none() | st.integers(0, 7)))
    if kind == "char":
        return SigfoxField(path, name, kind, 8 * draw(st.integers(1, 4)), 1, index)
    bits = draw(st.sampled_from([32, 64]) if kind == "float" else st.integers(1, 64))
    little = draw(st.booleans()) if kind == "float" or bits % 8 == 0 else False
    return SigfoxField(path, name, kind, bits, draw(_DIVISORS), index, None, little)


@st.composite
def layouts(draw: st.DrawFn) -> list[SigfoxField]:
    """Up to 8 fields that fit one frame (a field that would not fit ends the list)."""
    fields: list[SigfoxField] = []
    for i in range(draw(st.integers(1, 8))):
        candidate = draw(sigfox_fields(f"f{i}"))
        try:
            frame_length([*fields, candidate])
        except HardwareConfigError:
            break
        fields.append(candidate)
    assume(fields)
    return fields


def _exact_value(draw: Callable[[st.SearchStrategy[Any]], Any], field: SigfoxField) -> tuple[object, object]:
    """A value the field holds exactly, and what the parser decodes it to."""
    if field.type == "bool":
        flag = draw(st.booleans())
        return flag, flag
    if field.type == "char":
        text = draw(st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=field.characters))
        return text, text
    if field.type == "float":
        # Half the width's largest float: value / divisor * divisor must not round past it and be clamped.
        limit = 2.0**127 if field.bits == 32 else 2.0**1022
        number = draw(st.floats(width=field.bits, allow_nan=False, allow_infinity=field.divisor == 1,  # type: ignore[arg-type]
                                min_value=None if field.divisor == 1 else -limit,
                                max_value=None if field.divisor == 1 else limit))
        return number / field.divisor, number / field.divisor if field.divisor != 1 else number
    low = 0 if field.type == "uint" else -(1 << (field.bits - 1))
    high = (1 << field.bits) - 1 if field.type == "uint" else (1 << (field.bits - 1)) - 1
    if field.divisor != 1:  # keep scaled values within a float's exact integers
        low, high = max(low, -(1 << 50)), min(high, 1 << 50)
    raw = draw(st.integers(low, high))
    if field.divisor == 1:
        return raw, raw
    return raw / field.divisor, raw / field.divisor


@given(st.data())
@settings(max_examples=200)
def test_unpack_inverts_pack(data: st.DataObject) -> None:
    fields = data.draw(layouts())
    values, expected = {}, {}
    for field in fields:
        values[field.name], expected[field.name] = _exact_value(data.draw, field)
    frame = pack_frame(fields, values)  # type: ignore[arg-type]
    assert len(frame) == frame_length(fields) <= MAX_FRAME_BYTES
    decoded = unpack_frame(fields, frame)
    for field in fields:
        if field.type == "float" and field.divisor != 1:
            # value * divisor / divisor may be a rounding step away from the drawn float
            got, want = float(decoded[field.name]), float(expected[field.name])  # type: ignore[arg-type]
            tolerance = 1e-6 if field.bits == 32 else 1e-12
            assert math.isclose(got, want, rel_tol=tolerance) or math.isinf(want) or abs(want) < 1e-30
        else:
            assert decoded[field.name] == expected[field.name], field


@given(st.data())
@settings(max_examples=200)
def test_any_number_packs_clamped_into_range(data: st.DataObject) -> None:
    fields = data.draw(layouts())
    numbers = st.integers(-(1 << 70), 1 << 70) | st.floats(allow_nan=False)
    values: dict[str, object] = {}
    for field in fields:
        values[field.name] = data.draw(st.booleans() if field.type == "bool" else
                                       st.text(max_size=6) if field.type == "char" else numbers)
    frame = pack_frame(fields, values)  # type: ignore[arg-type]
    decoded = unpack_frame(fields, frame)
    for field in fields:
        if field.type in ("int", "uint"):
            low = 0 if field.type == "uint" else -(1 << (field.bits - 1))
            high = (1 << field.bits) - 1 if field.type == "uint" else (1 << (field.bits - 1)) - 1
            raw = decoded[field.name] * field.divisor  # type: ignore[operator]
            assert low - 1e-6 * abs(low) - 1 <= raw <= high + 1e-6 * abs(high) + 1


@given(st.data())
@settings(max_examples=200)
def test_console_format_decodes_like_the_fields(data: st.DataObject) -> None:
    fields = data.draw(layouts())
    console = parse_parser_format(parser_format(fields))
    assert [(s.byte, s.start, s.field.bits, s.field.type, s.field.divisor, s.field.little_endian)
            for s in layout(console)] == [
        (s.byte, s.start, s.field.bits, s.field.type, s.field.divisor, s.field.little_endian)
        for s in layout(fields)]
    frame = data.draw(st.binary(min_size=frame_length(fields), max_size=frame_length(fields)))
    assert _same(unpack_frame(console, frame), unpack_frame(fields, frame))


@given(st.data())
@settings(max_examples=200)
def test_field_spec_round_trips(data: st.DataObject) -> None:
    field = data.draw(sigfox_fields("value_1"))
    assert parse_field_spec(field.path, field_spec(field)) == field


@given(st.text(max_size=40))
@settings(max_examples=200)
def test_arbitrary_spec_text_parses_or_is_refused_clearly(text: str) -> None:
    try:
        field = parse_field_spec(TEMP, text)
    except HardwareConfigError as exc:
        assert exc.reason and exc.fix
    else:
        assert parse_field_spec(TEMP, field_spec(field)) == field


def _same(a: Mapping[str, object], b: Mapping[str, object]) -> bool:
    def normal(value: object) -> object:
        return "nan" if isinstance(value, float) and math.isnan(value) else value

    return {k: normal(v) for k, v in a.items()} == {k: normal(v) for k, v in b.items()}
