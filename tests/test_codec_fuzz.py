"""No payload makes a decoder fail with anything but CodecError: random bytes, mangled valid payloads,
random JSON and CBOR documents, fed to every registered content format.

The one other answer allowed is the deliberate 4.15 of application/octet-stream for a resource that
is not Opaque, which does not depend on the bytes at all.
"""

from __future__ import annotations

import json
from typing import Any

import cbor2
from codec_strategies import DEVICE_VALUES, device_models
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.core.codecs import CODECS
from agent.core.codecs.senml import decode_paths
from agent.core.errors import CodecError, UnsupportedContentFormat
from agent.core.formats import ContentFormat
from agent.core.model import ResourceType
from agent.core.path import Path

MODELS = device_models()
# Request paths at every level, over resources of every kind the device models have; /5/0/0 is
# Opaque so that octet-stream gets past its type check and into its decoding.
BASES = [Path(), Path(3), Path(3, 0), Path(3, 0, 0), Path(3, 0, 6), Path(3, 0, 6, 1), Path(5, 0, 0),
         Path(66, 0), Path(3303, 0, 5700), Path(1, 0, 6)]
FORMATS = sorted(CODECS)
VALID = {fmt: CODECS[fmt].encode(Path(3, 0), DEVICE_VALUES, MODELS) for fmt in FORMATS if fmt not in (0, 42)}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
    | st.sampled_from(["/3/0/", "/3/0/9", "9", "6/0", "/5/0/0", "3:0", "AQ=="]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["bn", "n", "v", "vs", "vb", "vd", "vlo", "bt", "t", "e", "sv", "ov",
                                       "bv", "x_"]), inner, max_size=5),
    max_leaves=20,
)
cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | st.binary(max_size=12),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from([-3, -2, 0, 1, 2, 3, 4, 6, 8, "vlo", "n"]), inner, max_size=5),
    max_leaves=20,
)


def decode_all(payload: bytes, formats: list[int], bases: list[Path]) -> None:
    """Decode with each format at each base; CodecError is the only failure allowed."""
    for fmt in formats:
        for base in bases:
            try:
                CODECS[fmt].decode(payload, base, MODELS)
            except CodecError:
                pass
            except UnsupportedContentFormat:
                # By design (4.15): octet-stream for a resource that is not Opaque, whatever the bytes.
                model = MODELS.resource(base)
                assert fmt == ContentFormat.OPAQUE and model is not None
                assert model.type is not ResourceType.OPAQUE
    for fmt in (ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR):
        try:
            decode_paths(payload, fmt)
        except CodecError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(BASES))
def test_random_bytes(payload: bytes, base: Path) -> None:
    decode_all(payload, FORMATS, [base])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(VALID)), st.data())
def test_mangled_valid_payloads(fmt: int, data: st.DataObject) -> None:
    payload = bytearray(VALID[fmt])
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, max(len(payload) - 1, 0)))
        if action == "flip" and payload:
            payload[at] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del payload[at:at + data.draw(st.integers(1, 8))]
        else:
            payload[at:at] = data.draw(st.binary(min_size=1, max_size=4))
    decode_all(bytes(payload), [fmt], [Path(3, 0), Path(3), Path()])


@settings(max_examples=200, deadline=None)
@given(json_values, st.sampled_from(BASES))
def test_random_json_documents(document: Any, base: Path) -> None:
    decode_all(json.dumps(document).encode(), [ContentFormat.SENML_JSON, ContentFormat.LWM2M_JSON], [base])


@settings(max_examples=200, deadline=None)
@given(cbor_values, st.sampled_from(BASES))
def test_random_cbor_documents(document: Any, base: Path) -> None:
    decode_all(cbor2.dumps(document), [ContentFormat.SENML_CBOR], [base])
