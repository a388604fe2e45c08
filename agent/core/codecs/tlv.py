"""LwM2M TLV (content format 11542, legacy 1542): OMA-TS-LightweightM2M-V1_0 §6.4.3.

TLV is the binary format every LwM2M 1.0 server speaks (Soracom Inventory sends Bootstrap-Write,
Write and expects Read answers in it). It carries ids and lengths but no types, so both directions
need the object model; and it addresses relative to the request path, so the shape of the payload
depends on ``base``:

=====================  =======================================================================
base                   payload
=====================  =======================================================================
``/O``                 object-instance TLVs (each wrapping resource TLVs)
``/O/I``               resource TLVs (a multiple resource is a "multiple resource" TLV)
``/O/I/R``             one resource TLV, or one multiple-resource TLV
``/O/I/R/RI``          one resource-instance TLV
=====================  =======================================================================

Decoding also accepts what servers send in practice: an object-instance TLV wrapping the resources
of a Write to ``/O/I`` (or ``/O/I/R``), bare resource-instance TLVs for ``/O/I/R``, and bare resource
TLVs for an object base (Create, Bootstrap-Write). In that last case the payload names no instance:
the values come back under instance 0 and :func:`instance_ids` (empty) tells the Create handler
that it must pick the instance id itself and re-base them.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ...core.errors import CodecError, NotAcceptable
from ...core.formats import ContentFormat
from ...core.model import ModelRegistry, ObjectLink, ResourceModel, ResourceType, Value
from ...core.path import Path
from ...core.values import ResourceValue, coerce
from . import register

# The identifier type, bits 7-6 of the type byte.
OBJECT_INSTANCE = 0
RESOURCE_INSTANCE = 1
MULTIPLE_RESOURCE = 2
RESOURCE_VALUE = 3

_KIND_NAMES = {
    OBJECT_INSTANCE: "object instance",
    RESOURCE_INSTANCE: "resource instance",
    MULTIPLE_RESOURCE: "multiple resource",
    RESOURCE_VALUE: "resource",
}

_MAX_LENGTH = 0xFFFFFF  # the 24-bit length field is the widest TLV has

_FLOAT32 = struct.Struct(">f")
_FLOAT64 = struct.Struct(">d")
_OBJLNK = struct.Struct(">HH")

_SIGNED_LIMITS = ((1, -(1 << 7), (1 << 7) - 1), (2, -(1 << 15), (1 << 15) - 1),
                  (4, -(1 << 31), (1 << 31) - 1), (8, -(1 << 63), (1 << 63) - 1))


@dataclass(frozen=True, slots=True)
class Tlv:
    """One decoded TLV: ``value`` holds the bytes of a leaf, ``children`` the TLVs of a container."""

    kind: int
    id: int
    offset: int
    value: bytes = b""
    children: tuple[Tlv, ...] = ()

    @property
    def kind_name(self) -> str:
        return _KIND_NAMES[self.kind]


# ---- the wire layer: bytes <-> Tlv ------------------------------------------------------------

def parse(payload: bytes) -> list[Tlv]:
    """Split a payload into TLVs, descending into containers; raise CodecError on malformed input."""
    return _parse(memoryview(payload), 0, len(payload), depth=0)


def _parse(data: memoryview, start: int, end: int, depth: int) -> list[Tlv]:
    out: list[Tlv] = []
    pos = start
    while pos < end:
        offset = pos
        type_byte = data[pos]
        pos += 1
        kind = type_byte >> 6
        id_size = 2 if type_byte & 0x20 else 1
        length_size = (type_byte >> 3) & 0x03
        if pos + id_size > end:
            raise CodecError(f"TLV at offset {offset}: truncated identifier")
        ident = int.from_bytes(data[pos:pos + id_size], "big")
        pos += id_size
        if length_size == 0:
            length = type_byte & 0x07
        else:
            if pos + length_size > end:
                raise CodecError(f"TLV at offset {offset}: truncated length field")
            length = int.from_bytes(data[pos:pos + length_size], "big")
            pos += length_size
        if length > end - pos:
            raise CodecError(
                f"TLV at offset {offset}: declared length {length} exceeds the {end - pos} bytes left"
            )
        if kind in (OBJECT_INSTANCE, MULTIPLE_RESOURCE):
            # Nesting is at most object instance > multiple resource > resource instance.
            if depth >= 2:
                raise CodecError(f"TLV at offset {offset}: {_KIND_NAMES[kind]} nested too deep")
            children = tuple(_parse(data, pos, pos + length, depth + 1))
            out.append(Tlv(kind, ident, offset, children=children))
        else:
            out.append(Tlv(kind, ident, offset, value=bytes(data[pos:pos + length])))
        pos += length
    return out


def _header(kind: int, ident: int, length: int) -> bytes:
    if length > _MAX_LENGTH:
        raise CodecError(f"TLV value of {length} bytes exceeds the 24-bit length limit")
    type_byte = kind << 6
    if ident > 0xFF:
        type_byte |= 0x20
        id_bytes = ident.to_bytes(2, "big")
    else:
        id_bytes = bytes((ident,))
    if length < 8:
        return bytes((type_byte | length,)) + id_bytes
    length_size = 1 if length <= 0xFF else 2 if length <= 0xFFFF else 3
    return bytes((type_byte | (length_size << 3),)) + id_bytes + length.to_bytes(length_size, "big")


def pack(kind: int, ident: int, content: bytes) -> bytes:
    """One TLV: header and content (for a container, ``content`` is its packed children)."""
    return _header(kind, ident, len(content)) + content


# ---- values: Python <-> TLV value bytes -----------------------------------------------------

def encode_value(value: Value, rtype: ResourceType, where: Path) -> bytes:
    """The TLV value bytes of ``value`` as a resource of type ``rtype``."""
    value = coerce(value, rtype, where)
    if rtype in (ResourceType.STRING, ResourceType.CORELNK):
        assert isinstance(value, str)
        return value.encode()
    if rtype in (ResourceType.INTEGER, ResourceType.TIME):
        assert isinstance(value, int)
        for size, low, high in _SIGNED_LIMITS:
            if low <= value <= high:
                return value.to_bytes(size, "big", signed=True)
        raise CodecError(f"{where}: integer {value} does not fit in 64 bits")
    if rtype is ResourceType.UNSIGNED_INTEGER:
        assert isinstance(value, int)
        for size in (1, 2, 4, 8):
            if value < 1 << (8 * size):
                return value.to_bytes(size, "big")
        raise CodecError(f"{where}: unsigned integer {value} does not fit in 64 bits")
    if rtype is ResourceType.FLOAT:
        assert isinstance(value, float)
        try:
            narrow = _FLOAT32.pack(value)
        except OverflowError:
            return _FLOAT64.pack(value)
        # Four bytes only when they lose nothing: a reader gets back exactly the value sent.
        return narrow if _FLOAT32.unpack(narrow)[0] == value else _FLOAT64.pack(value)
    if rtype is ResourceType.BOOLEAN:
        return b"\x01" if value else b"\x00"
    if rtype is ResourceType.OBJLNK:
        assert isinstance(value, ObjectLink)
        return _OBJLNK.pack(value.object_id, value.instance_id)
    assert isinstance(value, bytes)
    return value


def decode_value(raw: bytes, rtype: ResourceType, where: Path) -> Value:
    """The Python value of TLV value bytes of a resource of type ``rtype``."""
    size = len(raw)
    if rtype in (ResourceType.STRING, ResourceType.CORELNK):
        try:
            return raw.decode()
        except UnicodeDecodeError as exc:
            raise CodecError(f"{where}: {rtype.value} value is not UTF-8 ({exc.reason})") from None
    if rtype in (ResourceType.INTEGER, ResourceType.TIME, ResourceType.UNSIGNED_INTEGER):
        if size not in (1, 2, 4, 8):
            raise CodecError(f"{where}: {rtype.value} value has {size} bytes; expected 1, 2, 4 or 8")
        return int.from_bytes(raw, "big", signed=rtype is not ResourceType.UNSIGNED_INTEGER)
    if rtype is ResourceType.FLOAT:
        if size == 4:
            return float(_FLOAT32.unpack(raw)[0])
        if size == 8:
            return float(_FLOAT64.unpack(raw)[0])
        raise CodecError(f"{where}: Float value has {size} bytes; expected 4 or 8")
    if rtype is ResourceType.BOOLEAN:
        if raw == b"\x00":
            return False
        if raw == b"\x01":
            return True
        raise CodecError(f"{where}: Boolean value must be one byte 0 or 1, got {raw[:8].hex()}")
    if rtype is ResourceType.OBJLNK:
        if size != 4:
            raise CodecError(f"{where}: Objlnk value has {size} bytes; expected 4")
        return ObjectLink(*_OBJLNK.unpack(raw))
    return raw


def _model_for(path: Path, models: ModelRegistry) -> ResourceModel:
    model = models.resource(path)
    if model is None:
        raise CodecError(f"{Path(*path[:3])}: no object model for this resource; TLV carries no type")
    return model


def _type_of(value: Value, path: Path, models: ModelRegistry) -> ResourceType:
    """The type to encode ``value`` as: the model's, or for an unknown resource the Python type's."""
    model = models.resource(path)
    if model is not None:
        return model.type
    if isinstance(value, bool):
        return ResourceType.BOOLEAN
    if isinstance(value, int):
        return ResourceType.INTEGER
    if isinstance(value, float):
        return ResourceType.FLOAT
    if isinstance(value, str):
        return ResourceType.STRING
    if isinstance(value, ObjectLink):
        return ResourceType.OBJLNK
    if isinstance(value, bytes):
        return ResourceType.OPAQUE
    raise CodecError(f"{path}: cannot encode a {type(value).__name__} in TLV")


# ---- the codec --------------------------------------------------------------------------------

class TlvCodec:
    """LwM2M TLV; see the module docstring for the payload shape at each base level."""

    content_format = ContentFormat.TLV

    def encode(self, base: Path, values: Sequence[ResourceValue], models: ModelRegistry) -> bytes:
        if base.is_root:
            raise NotAcceptable("TLV cannot carry the root; ask for an object or deeper")
        depth = len(base)
        for rv in values:
            if len(rv.path) < 3 or rv.path[:depth] != base:
                raise CodecError(f"value path {rv.path} is not a resource under {base}")
        if depth == 4:
            if len(values) != 1 or len(values[0].path) != 4:
                raise NotAcceptable(f"TLV for {base} carries exactly one resource instance")
            rv = values[0]
            raw = encode_value(rv.value, _type_of(rv.value, rv.path, models), rv.path)
            return pack(RESOURCE_INSTANCE, base[3], raw)
        if depth == 1:
            by_instance: dict[int, list[ResourceValue]] = {}
            for rv in values:
                by_instance.setdefault(rv.path[1], []).append(rv)
            return b"".join(
                pack(OBJECT_INSTANCE, iid, _encode_resources(members, models))
                for iid, members in by_instance.items()
            )
        if depth == 3:
            if len({len(rv.path) for rv in values}) > 1:
                raise CodecError(f"values for {base} mix a single value and resource instances")
            model = models.resource(base)
            if not values and model is not None and model.multiple:
                return pack(MULTIPLE_RESOURCE, base[2], b"")
        return _encode_resources(values, models)

    def decode(self, payload: bytes, base: Path, models: ModelRegistry) -> list[ResourceValue]:
        tlvs = parse(payload)
        if base.is_root:
            raise CodecError("a TLV payload needs an object, instance or resource path, not /")
        depth = len(base)
        if depth >= 2 and len(tlvs) == 1 and tlvs[0].kind == OBJECT_INSTANCE:
            # Some servers wrap a Write to /O/I (even /O/I/R) in the instance's TLV.
            wrapper = tlvs[0]
            if wrapper.id != base[1]:
                raise CodecError(
                    f"TLV at offset {wrapper.offset}: object instance {wrapper.id} in a request for {base}"
                )
            tlvs = list(wrapper.children)
        out: list[ResourceValue] = []
        if depth == 1:
            kinds = {t.kind for t in tlvs}
            if kinds == {OBJECT_INSTANCE}:
                seen: set[int] = set()
                for t in tlvs:
                    if t.id in seen:
                        raise CodecError(f"TLV at offset {t.offset}: object instance {t.id} appears twice")
                    seen.add(t.id)
                    _decode_resources(t.children, Path(base[0], t.id), models, out)
            else:
                # Bare resources name no instance; see instance_ids() and the module docstring.
                _decode_resources(tlvs, Path(base[0], 0), models, out)
        elif depth == 2:
            _decode_resources(tlvs, base, models, out)
        elif depth == 3:
            if tlvs and all(t.kind == RESOURCE_INSTANCE for t in tlvs):
                model = _model_for(base, models)
                _decode_instances(tlvs, base, model, out)
            else:
                if len(tlvs) != 1:
                    raise CodecError(f"TLV for {base} must be one resource TLV, got {len(tlvs)} TLVs")
                if tlvs[0].id != base[2]:
                    raise CodecError(f"TLV at offset {tlvs[0].offset}: resource {tlvs[0].id} in a request "
                                     f"for {base}")
                _decode_resources(tlvs, base.parent(), models, out)
        else:
            if len(tlvs) != 1 or tlvs[0].kind != RESOURCE_INSTANCE or tlvs[0].id != base[3]:
                raise CodecError(f"TLV for {base} must be one resource-instance TLV with id {base[3]}")
            model = _model_for(base, models)
            _decode_instances(tlvs, base.parent(), model, out)
        return out


def _encode_resources(values: Sequence[ResourceValue], models: ModelRegistry) -> bytes:
    """Resource TLVs for values of one instance, grouping resource instances into multiple resources."""
    # Each slot is a packed resource TLV, or the id of a multiple resource packed once all its
    # instances are known; the resource keeps the place where its first instance appeared.
    slots: list[bytes | int] = []
    instances: dict[int, list[bytes]] = {}
    for rv in values:
        path = rv.path
        raw = encode_value(rv.value, _type_of(rv.value, path, models), path)
        if len(path) == 3:
            slots.append(pack(RESOURCE_VALUE, path[2], raw))
        else:
            group = instances.get(path[2])
            if group is None:
                group = instances[path[2]] = []
                slots.append(path[2])
            group.append(pack(RESOURCE_INSTANCE, path[3], raw))
    return b"".join(
        slot if isinstance(slot, bytes) else pack(MULTIPLE_RESOURCE, slot, b"".join(instances[slot]))
        for slot in slots
    )


def _decode_resources(tlvs: Sequence[Tlv], instance: Path, models: ModelRegistry,
                      out: list[ResourceValue]) -> None:
    seen: set[int] = set()
    for t in tlvs:
        if t.kind not in (RESOURCE_VALUE, MULTIPLE_RESOURCE):
            raise CodecError(f"TLV at offset {t.offset}: {t.kind_name} TLV where a resource was expected")
        if t.id in seen:
            raise CodecError(f"TLV at offset {t.offset}: resource {t.id} appears twice")
        seen.add(t.id)
        path = instance.child(t.id)
        model = _model_for(path, models)
        if t.kind == RESOURCE_VALUE:
            if model.multiple:
                raise CodecError(f"TLV at offset {t.offset}: {path} is a multiple-instance resource; "
                                 "send a multiple-resource TLV")
            out.append(ResourceValue(path, decode_value(t.value, model.type, path)))
        else:
            if not model.multiple:
                raise CodecError(f"TLV at offset {t.offset}: {path} is a single-instance resource")
            _decode_instances(t.children, path, model, out)


def _decode_instances(tlvs: Sequence[Tlv], resource: Path, model: ResourceModel,
                      out: list[ResourceValue]) -> None:
    if not model.multiple:
        raise CodecError(f"{resource} is a single-instance resource; it has no resource instances")
    seen: set[int] = set()
    for t in tlvs:
        if t.kind != RESOURCE_INSTANCE:
            raise CodecError(f"TLV at offset {t.offset}: {t.kind_name} TLV where a resource instance "
                             "was expected")
        if t.id in seen:
            raise CodecError(f"TLV at offset {t.offset}: resource instance {t.id} appears twice")
        seen.add(t.id)
        path = resource.child(t.id)
        out.append(ResourceValue(path, decode_value(t.value, model.type, path)))


def instance_ids(payload: bytes) -> list[int]:
    """The ids of the object-instance TLVs a payload for an object path wraps its resources in.

    Empty when the payload is bare resource TLVs: a Create that leaves the choice of instance id to
    the client. :meth:`TlvCodec.decode` then returns the values under instance 0 and the handler
    re-bases them. This also gives the id of an instance created with no resources at all, which
    the flat list of values cannot carry.
    """
    tlvs = parse(payload)
    if tlvs and all(t.kind == OBJECT_INSTANCE for t in tlvs):
        return [t.id for t in tlvs]
    return []


TLV = TlvCodec()
register(TLV, ContentFormat.LEGACY_TLV)
