"""``session.json`` (agent.client.continuity): attributes and observations as the state directory keeps them."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.client.continuity import SavedObservation, parse_session
from agent.core.attributes import NotificationAttributes
from agent.core.path import Path

paths = st.lists(st.integers(0, 65534), min_size=1, max_size=4).map(lambda ids: Path(*ids))
numbers = st.one_of(st.none(), st.integers(0, 2**31 - 1), st.floats(-1e9, 1e9, allow_nan=False))
attribute_sets = st.builds(NotificationAttributes, pmin=st.one_of(st.none(), st.integers(0, 10**6)),
                           pmax=st.one_of(st.none(), st.integers(0, 10**6)), gt=numbers, lt=numbers,
                           st=st.one_of(st.none(), st.floats(0, 1e6)))
observations = st.builds(
    SavedObservation, token=st.binary(min_size=1, max_size=8), paths=st.lists(paths, min_size=1, max_size=3).map(tuple),
    content_format=st.sampled_from([0, 11542, 110, 112]), composite=st.booleans(), sequence=st.integers(0, 2**24 - 1),
    last_value=st.one_of(st.none(), st.integers(-100, 100), st.text(max_size=5), st.booleans()))


def _document(attributes: dict[Path, NotificationAttributes], saved: list[SavedObservation]) -> object:
    """What session_document writes, through JSON as the state directory stores it."""
    return json.loads(json.dumps({
        "server_uri": "coap://x",
        "attributes": {str(p): dict(a.items()) for p, a in attributes.items()},
        "observations": [{"token": base64.b64encode(o.token).decode(), "paths": [str(p) for p in o.paths],
                          "content_format": o.content_format, "composite": o.composite, "sequence": o.sequence,
                          "last_value": o.last_value} for o in saved],
    }))


@given(st.dictionaries(paths, attribute_sets, max_size=5), st.lists(observations, max_size=4))
def test_documents_parse_back_to_what_was_saved(attributes: dict[Path, NotificationAttributes],
                                                saved: list[SavedObservation]) -> None:
    got_attributes, got_observations = parse_session(_document(attributes, saved))
    assert got_attributes == attributes
    assert got_observations == saved


@pytest.mark.parametrize("bad", [
    [], "x", {"attributes": {"/3/0": {"pmin": "ten"}}}, {"attributes": {"not a path": {}}},
    {"observations": [{"token": "!!", "paths": ["/3/0"], "content_format": 0, "composite": False, "sequence": 1}]},
    {"observations": [{"token": "AQ==", "paths": [], "content_format": 0, "composite": False, "sequence": 1}]},
    {"observations": [{"paths": ["/3/0"]}]}, {"observations": "all"},
])
def test_malformed_documents_are_refused_with_a_reason(bad: object) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        parse_session(bad)


@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=4)),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=12))
def test_any_json_is_parsed_or_refused_never_crashes(data: object) -> None:
    try:
        parse_session(data)
    except ValueError:
        pass
