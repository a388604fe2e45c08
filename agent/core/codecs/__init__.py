"""Content-format codecs: LwM2M values to and from payload bytes.

Every codec has the same two functions (see :class:`Codec`), working on the flat
``list[ResourceValue]`` shape of :mod:`agent.core.values`. ``base`` is the path the request names:
formats that address relative to it (TLV, text, opaque) need it, self-describing ones (SenML,
LwM2M JSON) use it as their base name. ``models`` types values in formats that carry no type.

A payload that does not decode raises :class:`~agent.core.errors.CodecError` (answered 4.00);
asking for a format not in :data:`CODECS` is 4.15 (for a payload) or 4.06 (for Accept).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..errors import NotAcceptable, UnsupportedContentFormat
from ..formats import ContentFormat
from ..model import ModelRegistry
from ..path import Path
from ..values import ResourceValue


class Codec(Protocol):
    content_format: ContentFormat

    def encode(self, base: Path, values: Sequence[ResourceValue], models: ModelRegistry) -> bytes: ...

    def decode(self, payload: bytes, base: Path, models: ModelRegistry) -> list[ResourceValue]: ...


CODECS: dict[int, Codec] = {}


def register(codec: Codec, *aliases: int) -> None:
    CODECS[int(codec.content_format)] = codec
    for alias in aliases:
        CODECS[alias] = codec


def decoder_for(content_format: int) -> Codec:
    codec = CODECS.get(content_format)
    if codec is None:
        raise UnsupportedContentFormat(f"content format {content_format} is not supported")
    return codec


def encoder_for(content_format: int) -> Codec:
    codec = CODECS.get(content_format)
    if codec is None:
        raise NotAcceptable(f"content format {content_format} cannot be produced")
    return codec


def _load_builtin() -> None:
    # Imported for their register() side effect; each module registers its codec(s).
    from . import lwm2m_json, opaque, senml, text, tlv  # noqa: F401


_load_builtin()
