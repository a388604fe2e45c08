"""The Inventory API's JSON form of LwM2M values: rendering, parsing written values, and the shapes of
``ResourceInstance`` and notification entries. Pure code, so mostly properties (hypothesis)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.core.model import ObjectLink, Operations, ResourceModel, ResourceType
from agent.core.path import Path
from agent.core.values import INTEGER_RANGE, UNSIGNED_RANGE, ResourceValue
from agent.models import shipped_models
from agent.simulator.cloud.inventory_observations import notification_content
from agent.simulator.cloud.inventory_values import (
    ValueStyle,
    instance_contents,
    java_date,
    parse_java_date,
    parse_resource_body,
    parse_value,
    render_value,
    resource_content,
)

STYLES = [ValueStyle(), ValueStyle(opaque="hex", time_style="unix")]

VALUES_BY_TYPE: dict[ResourceType, st.SearchStrategy[Any]] = {
    ResourceType.STRING: st.text(),
    ResourceType.CORELNK: st.text(),
    ResourceType.INTEGER: st.integers(*INTEGER_RANGE),
    ResourceType.UNSIGNED_INTEGER: st.integers(*UNSIGNED_RANGE),
    ResourceType.FLOAT: st.floats(allow_nan=False, allow_infinity=False),
    ResourceType.BOOLEAN: st.booleans(),
    ResourceType.OPAQUE: st.binary(max_size=64),
    ResourceType.TIME: st.integers(-(2**40), 2**40),
    ResourceType.OBJLNK: st.builds(ObjectLink, st.integers(0, 65535), st.integers(0, 65535)),
}

typed_values = st.sampled_from(sorted(VALUES_BY_TYPE, key=lambda t: t.value)).flatmap(
    lambda rtype: st.tuples(st.just(rtype), VALUES_BY_TYPE[rtype])
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200)
@given(typed_values, st.sampled_from(STYLES))
def test_every_value_survives_json_and_back(typed: tuple[ResourceType, Any], style: ValueStyle) -> None:
    rtype, value = typed
    rendered = render_value(value, rtype, style)
    over_the_wire = json.loads(json.dumps(rendered))
    assert parse_value(over_the_wire, rtype, style) == value


@settings(max_examples=200)
@given(json_values, st.sampled_from(list(VALUES_BY_TYPE)), st.sampled_from(STYLES))
def test_any_json_either_parses_or_is_refused_with_a_value_error(
    raw: Any, rtype: ResourceType, style: ValueStyle
) -> None:
    try:
        parsed = parse_value(raw, rtype, style)
    except ValueError as exc:
        assert str(exc).startswith("value") or ": " in str(exc)
    else:
        assert parse_value(json.loads(json.dumps(render_value(parsed, rtype, style))), rtype, style) == parsed


@settings(max_examples=200)
@given(st.integers(-62_135_596_800, 253_402_300_799))
def test_java_dates_round_trip_over_every_year(seconds: int) -> None:
    text = java_date(seconds)
    assert text is not None and parse_java_date(text) == seconds


def test_java_date_is_what_soracom_forwards() -> None:
    assert java_date(1524554897) == "Apr 24, 2018 7:28:17 AM"
    assert java_date(0) == "Jan 1, 1970 12:00:00 AM"
    assert java_date(43200) == "Jan 1, 1970 12:00:00 PM"
    assert java_date(10**15) is None and render_value(10**15, ResourceType.TIME, ValueStyle()) == 10**15
    assert parse_java_date("Apr 31, 2018 7:28:17 AM") is None
    assert parse_java_date("Apr 24, 2018 13:28:17 PM") is None


@pytest.mark.parametrize(
    ("raw", "rtype", "expected"),
    [
        ("12", ResourceType.INTEGER, 12),
        (12.0, ResourceType.INTEGER, 12),
        (1, ResourceType.BOOLEAN, True),
        ("false", ResourceType.BOOLEAN, False),
        ("2.5", ResourceType.FLOAT, 2.5),
        (5, ResourceType.STRING, "5"),
        (True, ResourceType.STRING, "true"),
        ("2024-01-01T00:00:00Z", ResourceType.TIME, 1704067200),
        ("2024-01-01T09:00:00+09:00", ResourceType.TIME, 1704067200),
        ("1704067200", ResourceType.TIME, 1704067200),
        ("3:0", ResourceType.OBJLNK, ObjectLink(3, 0)),
    ],
)
def test_written_json_is_taken_leniently(raw: Any, rtype: ResourceType, expected: Any) -> None:
    assert parse_value(raw, rtype, ValueStyle()) == expected


@pytest.mark.parametrize(
    ("raw", "rtype", "words"),
    [
        (True, ResourceType.INTEGER, "value must be an integer, not a boolean"),
        (2**63, ResourceType.INTEGER, "does not fit Integer"),
        (-1, ResourceType.UNSIGNED_INTEGER, "Unsigned Integer"),
        ("tomorrow", ResourceType.TIME, "value must be a time"),
        ("3", ResourceType.OBJLNK, "not an object link"),
        ("3:70000", ResourceType.OBJLNK, "out of range"),
        ([1], ResourceType.STRING, "value must be a string"),
        ("zz", ResourceType.OPAQUE, "base64"),
        ("x", ResourceType.NONE, "execute it instead"),
    ],
)
def test_bad_written_json_is_refused_naming_the_field(raw: Any, rtype: ResourceType, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_value(raw, rtype, ValueStyle())


def test_values_that_json_cannot_carry_are_named() -> None:
    assert render_value(math.inf, ResourceType.FLOAT, ValueStyle()) == "inf"
    assert render_value(math.nan, ResourceType.FLOAT, ValueStyle()) == "nan"


MULTI = ResourceModel(9, "Multi", Operations.RW, ResourceType.INTEGER, multiple=True)
SINGLE = ResourceModel(1, "Single", Operations.RW, ResourceType.INTEGER)


def test_write_bodies_for_single_and_multiple_resources() -> None:
    path = Path(32769, 0, 9)
    style = ValueStyle()
    assert parse_resource_body({"values": [4, "5"]}, path, MULTI, style) == [
        ResourceValue(Path(32769, 0, 9, 0), 4),
        ResourceValue(Path(32769, 0, 9, 1), 5),
    ]
    assert parse_resource_body({"values": {"7": 1}}, path, MULTI, style) == [
        ResourceValue(Path(32769, 0, 9, 7), 1)
    ]
    assert parse_resource_body({"value": 3}, Path(32769, 0, 1), SINGLE, style) == [
        ResourceValue(Path(32769, 0, 1), 3)
    ]
    for body, model, words in (
        ({"value": 1}, MULTI, "multiple resource"),
        ({"values": 1}, MULTI, "values must be a list"),
        ({"values": {"x": 1}}, MULTI, "not a resource instance id"),
        ({"values": {"70000": 1}}, MULTI, "not a resource instance id"),
        ({"values": ["a"]}, MULTI, r"values\[0\] must be an integer"),
        ({"values": [1]}, SINGLE, "single resource"),
        ({}, SINGLE, "field value is required"),
    ):
        with pytest.raises(ValueError, match=words):
            parse_resource_body(body, path, model, style)


def test_resource_content_shapes() -> None:
    style = ValueStyle()
    single = resource_content([ResourceValue(Path(3, 0, 0), "ACME")], Path(3, 0, 0), None, style)
    assert single == {"value": "ACME"}
    multi = [ResourceValue(Path(3, 0, 6, 0), 1), ResourceValue(Path(3, 0, 6, 2), 5)]
    assert resource_content(multi, Path(3, 0, 6), None, style) == {"values": {"0": 1, "2": 5}}
    assert resource_content([], Path(32769, 0, 9), MULTI, style) == {"values": {}}


def test_notification_content_names_resources_from_the_model() -> None:
    models = shipped_models()
    values = [ResourceValue(Path(3303, 0, 5700), 21.5), ResourceValue(Path(3303, 0, 5701), "Cel")]
    content = notification_content("d-1", Path(3303, 0, 5700), values[:1], models, ValueStyle(), 1000)
    assert content == {
        "deviceId": "d-1",
        "path": "/3303/0",
        "lastModifiedTime": 1000,
        "resources": {"5700": {"name": "Sensor Value", "value": 21.5}},
    }
    unknown = notification_content(
        "d-1", Path(40000, 1), [ResourceValue(Path(40000, 1, 0), 1)], models, ValueStyle(), 1000
    )
    assert unknown["resources"] == {"0": {"value": 1}}
    contents = instance_contents(values, Path(3303, 0), models.get(3303), ValueStyle())
    assert contents == {5700: {"value": 21.5}, 5701: {"value": "Cel"}}
