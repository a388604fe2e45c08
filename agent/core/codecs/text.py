"""text/plain (content format 0): one resource value as text.

The simplest LwM2M format and the one a person can type into a CLI: a single value, with the type
coming from the object model (booleans are ``0``/``1``, Opaque is base64, Objlnk is ``3:0``). It can
only name one resource or resource instance, so a request for anything larger is refused with
4.06 when producing a payload and 4.00 when reading one.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...core.errors import CodecError, NotAcceptable
from ...core.formats import ContentFormat
from ...core.model import ModelRegistry, ResourceModel
from ...core.path import Path
from ...core.values import ResourceValue, coerce, text_to_value, value_to_text
from . import register


def single_value(base: Path, values: Sequence[ResourceValue], format_name: str) -> ResourceValue:
    """The one value a single-value format can carry, or NotAcceptable (4.06) when there is not one."""
    if len(base) < 3:
        raise NotAcceptable(f"{format_name} carries one resource value; {base} is not a resource")
    if len(values) != 1 or values[0].path != base:
        raise NotAcceptable(
            f"{format_name} carries exactly one value at {base}, not {len(values)} value(s)"
            + (f" under {values[0].path.parent()}" if values and values[0].path != base else "")
        )
    return values[0]


def single_target(base: Path, models: ModelRegistry, format_name: str) -> ResourceModel:
    """The model of the one resource a single-value payload is for; CodecError when it cannot be one."""
    if len(base) < 3:
        raise CodecError(f"{format_name} carries one resource value; {base} is not a resource")
    model = models.resource(base)
    if model is None:
        raise CodecError(f"{base}: no object model for this resource; {format_name} carries no type")
    if model.multiple and len(base) == 3:
        raise CodecError(f"{base} is a multiple-instance resource; {format_name} can only write one "
                         "of its instances (name it: /O/I/R/RI)")
    if not model.multiple and len(base) == 4:
        raise CodecError(f"{base.parent()} is a single-instance resource; it has no instance {base[3]}")
    return model


class TextCodec:
    content_format = ContentFormat.TEXT

    def encode(self, base: Path, values: Sequence[ResourceValue], models: ModelRegistry) -> bytes:
        rv = single_value(base, values, "text/plain")
        model = models.resource(base)
        value = rv.value if model is None else coerce(rv.value, model.type, base)
        return value_to_text(value).encode()

    def decode(self, payload: bytes, base: Path, models: ModelRegistry) -> list[ResourceValue]:
        model = single_target(base, models, "text/plain")
        try:
            text = payload.decode()
        except UnicodeDecodeError as exc:
            raise CodecError(f"{base}: text/plain payload is not UTF-8 (byte {exc.start})") from None
        return [ResourceValue(base, text_to_value(text, model.type, base))]


TEXT = TextCodec()
register(TEXT)
