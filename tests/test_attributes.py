"""Write-Attributes parsing, the attribute rules, inheritance and Discover output."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.core.attributes import (
    MAX_PERIOD,
    AttributeStore,
    AttributeUpdate,
    NotificationAttributes,
    format_attribute_value,
    parse_query,
)
from agent.core.errors import BadRequest
from agent.core.model import ResourceType
from agent.core.path import Path

NO_DEFAULTS = NotificationAttributes()


# --- parse_query: known examples -------------------------------------------------------------


def test_parse_sets_periods_and_thresholds() -> None:
    update = parse_query(["pmin=10", "pmax=60", "gt=25.5", "lt=-3", "st=0.5", "epmin=1", "epmax=30"])
    assert update.changes == {
        "pmin": 10,
        "pmax": 60,
        "gt": 25.5,
        "lt": -3.0,
        "st": 0.5,
        "epmin": 1,
        "epmax": 30,
    }
    assert isinstance(update.changes["pmin"], int)
    assert isinstance(update.changes["lt"], float)


def test_parse_accepts_one_query_string() -> None:
    assert parse_query("pmin=10&gt=25.5").changes == {"pmin": 10, "gt": 25.5}


def test_attribute_without_value_means_unset() -> None:
    assert parse_query(["pmax"]).changes == {"pmax": None}
    assert parse_query(["pmin=", "gt"]).changes == {"pmin": None, "gt": None}


def test_empty_query_is_an_empty_update() -> None:
    assert parse_query([]).is_empty()
    assert parse_query("").is_empty()


def test_java_style_exponent_is_a_number() -> None:
    # Leshan prints doubles with Double.toString: 1.0E-5
    assert parse_query(["st=1.0E-5"]).changes == {"st": 1e-5}


@pytest.mark.parametrize(
    ("query", "named"),
    [
        (["foo=1"], "foo"),
        (["PMIN=1"], "PMIN"),
        (["pmin=-1"], "pmin"),
        (["pmin=1.5"], "pmin"),
        (["pmax=ten"], "pmax"),
        (["epmin=+3"], "epmin"),
        (["pmin=\u0661\u0660"], "pmin"),  # Arabic-Indic digits are digits to int(), not to LwM2M
        (["pmin=1_0"], "pmin"),
        ([f"pmax={MAX_PERIOD + 1}"], "pmax"),
        (["pmax=" + "9" * 5000], "pmax"),
        (["gt=abc"], "gt"),
        (["gt=nan"], "gt"),
        (["lt=inf"], "lt"),
        (["gt=1e999"], "gt"),
        (["gt=0x10"], "gt"),
        (["st=-1"], "st"),
        (["dim=2"], "dim"),
        (["ver=1.1"], "ver"),
        (["cancel"], "cancel"),
        (["pmin=1", "pmin=2"], "pmin"),
        (["pmin=1", "pmin"], "pmin"),
    ],
)
def test_bad_queries_are_refused_naming_the_attribute(query: list[str], named: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_query(query)
    assert caught.value.code == (4, 0)
    assert named in caught.value.message


def test_cancel_points_to_coap_cancellation() -> None:
    with pytest.raises(BadRequest, match="Observe=1"):
        parse_query(["cancel"])


# --- parse_query: properties -----------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
periods = st.integers(0, MAX_PERIOD)
attribute_sets = st.builds(
    NotificationAttributes,
    pmin=st.none() | periods,
    pmax=st.none() | periods,
    gt=st.none() | finite,
    lt=st.none() | finite,
    st=st.none() | finite.map(abs),
    epmin=st.none() | periods,
    epmax=st.none() | periods,
)


@settings(max_examples=200)
@given(attribute_sets)
def test_discover_text_parses_back_to_the_same_values(attrs: NotificationAttributes) -> None:
    query = [f"{name}={format_attribute_value(value)}" for name, value in attrs.items()]
    parsed = parse_query(query).apply_to(NotificationAttributes())
    assert parsed == attrs


@settings(max_examples=200)
@given(st.lists(st.text(max_size=20), max_size=5))
def test_any_query_parses_or_is_a_bad_request(query: list[str]) -> None:
    try:
        update = parse_query(query)
    except BadRequest as error:
        assert error.message
    else:
        for name, value in update.changes.items():
            assert value is None or math.isfinite(value), name


@settings(max_examples=200)
@given(finite)
def test_formatted_numbers_have_no_exponent_and_no_needless_zeros(value: float) -> None:
    text = format_attribute_value(value)
    assert "e" not in text.lower()
    assert not (("." in text) and text.endswith("0"))
    assert not text.endswith(".")
    assert float(text) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [(10, "10"), (25.5, "25.5"), (30.0, "30"), (-0.0, "0"), (1e-7, "0.0000001"), (-42.25, "-42.25")],
)
def test_format_examples(value: float, text: str) -> None:
    assert format_attribute_value(value) == text


# --- AttributeStore --------------------------------------------------------------------------


def test_apply_merges_and_unsets() -> None:
    store = AttributeStore()
    path = Path(3303, 0, 5700)
    store.apply(path, parse_query(["pmin=10", "pmax=60"]), ResourceType.FLOAT)
    store.apply(path, parse_query(["gt=25.5"]), ResourceType.FLOAT)
    assert store.get(path) == NotificationAttributes(pmin=10, pmax=60, gt=25.5)
    store.apply(path, parse_query(["pmax", "gt"]), ResourceType.FLOAT)
    assert store.get(path) == NotificationAttributes(pmin=10)
    store.apply(path, parse_query(["pmin="]), ResourceType.FLOAT)
    assert store.get(path).is_empty()
    assert store.paths() == []


def test_inheritance_resource_over_instance_over_object_over_defaults() -> None:
    store = AttributeStore()
    store.apply(Path(3303), parse_query(["pmin=5", "pmax=100", "epmax=50"]))
    store.apply(Path(3303, 0), parse_query(["pmax=60"]))
    store.apply(Path(3303, 0, 5700), parse_query(["pmin=1", "st=0.5"]), ResourceType.FLOAT)
    defaults = NotificationAttributes(pmin=0, pmax=300)

    assert store.effective(Path(3303, 0, 5700), defaults) == NotificationAttributes(
        pmin=1, pmax=60, st=0.5, epmax=50
    )
    # A sibling resource and a sibling instance see only what is above them.
    assert store.effective(Path(3303, 0, 5701), defaults) == NotificationAttributes(pmin=5, pmax=60, epmax=50)
    assert store.effective(Path(3303, 1), defaults) == NotificationAttributes(pmin=5, pmax=100, epmax=50)
    # Another object falls back to the Server object's defaults.
    assert store.effective(Path(3304, 0, 5700), defaults) == defaults
    assert store.effective(Path(3304, 0, 5700), NO_DEFAULTS) == NO_DEFAULTS


def test_unset_at_a_level_lets_the_level_above_show_through() -> None:
    store = AttributeStore()
    store.apply(Path(3), parse_query(["pmin=30"]))
    store.apply(Path(3, 0, 9), parse_query(["pmin=1"]), ResourceType.INTEGER)
    assert store.effective(Path(3, 0, 9), NO_DEFAULTS).pmin == 1
    store.apply(Path(3, 0, 9), parse_query(["pmin"]), ResourceType.INTEGER)
    assert store.effective(Path(3, 0, 9), NO_DEFAULTS).pmin == 30


def test_resource_instance_level_overrides_resource() -> None:
    store = AttributeStore()
    store.apply(Path(3, 0, 7), parse_query(["pmin=10", "gt=5"]), ResourceType.INTEGER)
    store.apply(Path(3, 0, 7, 1), parse_query(["gt=7"]), ResourceType.INTEGER)
    assert store.effective(Path(3, 0, 7, 1), NO_DEFAULTS) == NotificationAttributes(pmin=10, gt=7.0)


@pytest.mark.parametrize(
    ("path", "query", "resource_type", "message"),
    [
        (Path(), ["pmin=1"], None, "root"),
        (Path(3303), ["gt=1"], None, "gt"),
        (Path(3303, 0), ["lt=1", "st=2"], None, "lt, st"),
        (Path(3, 0, 0), ["gt=1"], ResourceType.STRING, "numeric"),
        (Path(3, 0, 13), ["st=1"], ResourceType.TIME, "numeric"),
        (Path(3, 0, 0), ["lt=1"], ResourceType.BOOLEAN, "numeric"),
    ],
)
def test_thresholds_only_on_numeric_resources(
    path: Path, query: list[str], resource_type: ResourceType | None, message: str
) -> None:
    store = AttributeStore()
    with pytest.raises(BadRequest, match=message):
        store.apply(path, parse_query(query), resource_type)
    assert store.paths() == []


def test_periods_are_allowed_at_every_level() -> None:
    store = AttributeStore()
    for path in (Path(3303), Path(3303, 0), Path(3303, 0, 5700), Path(3303, 0, 5700, 0)):
        store.apply(path, parse_query(["pmin=1", "pmax=2", "epmin=1", "epmax=2"]), ResourceType.STRING)
    assert len(store.paths()) == 4


def test_unsetting_a_threshold_above_resource_level_is_harmless() -> None:
    store = AttributeStore()
    assert store.apply(Path(3303, 0), parse_query(["gt"])).is_empty()


@pytest.mark.parametrize(
    ("query", "ok"),
    [
        (["lt=10", "gt=20"], True),
        (["lt=20", "gt=20"], False),
        (["lt=30", "gt=20"], False),
        (["lt=10", "gt=17", "st=4"], False),  # 10 + 2*4 = 18 >= 17
        (["lt=10", "gt=18", "st=4"], False),  # equality is not "less than"
        (["lt=10", "gt=19", "st=4"], True),
        (["lt=-5", "gt=5", "st=4"], True),
    ],
)
def test_lt_plus_twice_st_must_stay_below_gt(query: list[str], ok: bool) -> None:
    store = AttributeStore()
    path = Path(3303, 0, 5700)
    if ok:
        store.apply(path, parse_query(query), ResourceType.FLOAT)
    else:
        with pytest.raises(BadRequest, match="gt"):
            store.apply(path, parse_query(query), ResourceType.FLOAT)


def test_threshold_rule_is_checked_against_what_is_already_set() -> None:
    store = AttributeStore()
    path = Path(3303, 0, 5700)
    store.apply(path, parse_query(["gt=20", "pmin=3"]), ResourceType.FLOAT)
    with pytest.raises(BadRequest, match=r"lt \(30\) must be less than gt \(20\)"):
        store.apply(path, parse_query(["lt=30"]), ResourceType.FLOAT)
    with pytest.raises(BadRequest, match=r"lt \+ 2\*st"):
        store.apply(path, parse_query(["lt=10", "st=5"]), ResourceType.FLOAT)
    # A refused request changes nothing.
    assert store.get(path) == NotificationAttributes(pmin=3, gt=20.0)
    # Moving gt out of the way in the same request makes it valid.
    store.apply(path, parse_query(["lt=30", "gt=40"]), ResourceType.FLOAT)
    assert store.get(path) == NotificationAttributes(pmin=3, gt=40.0, lt=30.0)


def test_pmax_below_pmin_is_accepted_and_then_ignored() -> None:
    store = AttributeStore()
    attrs = store.apply(Path(3303, 0), parse_query(["pmin=60", "pmax=10"]))
    assert attrs == NotificationAttributes(pmin=60, pmax=10)
    assert attrs.effective_pmax is None


@pytest.mark.parametrize(
    ("attrs", "pmax"),
    [
        (NotificationAttributes(pmax=30), 30),
        (NotificationAttributes(pmin=30, pmax=30), 30),
        (NotificationAttributes(pmin=31, pmax=30), None),
        (NotificationAttributes(pmax=0), None),
        (NotificationAttributes(), None),
    ],
)
def test_effective_pmax(attrs: NotificationAttributes, pmax: int | None) -> None:
    assert attrs.effective_pmax == pmax


def test_effective_epmax_ignores_epmax_below_epmin() -> None:
    assert NotificationAttributes(epmin=10, epmax=5).effective_epmax is None
    assert NotificationAttributes(epmin=5, epmax=10).effective_epmax == 10


def test_discover_prints_attributes_of_exactly_that_level() -> None:
    store = AttributeStore()
    store.apply(Path(3), parse_query(["pmin=10", "pmax=60"]))
    store.apply(Path(3, 0, 7), parse_query(["gt=50", "lt=42.2", "st=0.5"]), ResourceType.INTEGER)
    assert store.discover_attributes(Path(3)) == {"pmin": "10", "pmax": "60"}
    assert store.discover_attributes(Path(3, 0)) == {}
    assert store.discover_attributes(Path(3, 0, 7)) == {"gt": "50", "lt": "42.2", "st": "0.5"}
    assert list(store.discover_attributes(Path(3, 0, 7), inherited=True).items()) == [
        ("pmin", "10"),
        ("pmax", "60"),
        ("gt", "50"),
        ("lt", "42.2"),
        ("st", "0.5"),
    ]


def test_forget_drops_a_subtree() -> None:
    store = AttributeStore()
    store.apply(Path(3303), parse_query(["pmin=1"]))
    store.apply(Path(3303, 0), parse_query(["pmin=2"]))
    store.apply(Path(3303, 0, 5700), parse_query(["pmin=3"]))
    store.apply(Path(3303, 1), parse_query(["pmin=4"]))
    store.forget(Path(3303, 0))
    assert store.paths() == [Path(3303), Path(3303, 1)]


def test_update_apply_to_keeps_what_it_does_not_name() -> None:
    current = NotificationAttributes(pmin=1, pmax=2, gt=3.0)
    assert AttributeUpdate({"pmax": None, "st": 1.0}).apply_to(current) == NotificationAttributes(
        pmin=1, gt=3.0, st=1.0
    )
