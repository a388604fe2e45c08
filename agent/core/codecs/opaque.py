"""application/octet-stream (content format 42): the raw bytes of one Opaque resource.

Firmware images and other blobs travel this way without the base64 of text/plain. The format fits
only Opaque resources: producing it for another type is 4.06, receiving it for one is 4.15.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...core.errors import NotAcceptable, UnsupportedContentFormat
from ...core.formats import ContentFormat
from ...core.model import ModelRegistry, ResourceType
from ...core.path import Path
from ...core.values import ResourceValue
from . import register
from .text import single_target, single_value


class OpaqueCodec:
    content_format = ContentFormat.OPAQUE

    def encode(self, base: Path, values: Sequence[ResourceValue], models: ModelRegistry) -> bytes:
        rv = single_value(base, values, "application/octet-stream")
        model = models.resource(base)
        if model is not None and model.type is not ResourceType.OPAQUE:
            raise NotAcceptable(f"{base} is of type {model.type.value}; application/octet-stream "
                                "carries only Opaque resources")
        if not isinstance(rv.value, bytes):
            raise NotAcceptable(f"{base}: application/octet-stream carries bytes, not "
                                f"{type(rv.value).__name__}")
        return rv.value

    def decode(self, payload: bytes, base: Path, models: ModelRegistry) -> list[ResourceValue]:
        model = single_target(base, models, "application/octet-stream")
        if model.type is not ResourceType.OPAQUE:
            raise UnsupportedContentFormat(f"{base} is of type {model.type.value}; "
                                           "application/octet-stream fits only Opaque resources")
        return [ResourceValue(base, bytes(payload))]


OPAQUE = OpaqueCodec()
register(OPAQUE)
