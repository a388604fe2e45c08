"""Hypothesis strategies for the codec tests: random object models and values that fit them.

Every codec test draws a :class:`Case` -- a model registry, a request path and the flat list of
values a Read of that path would produce -- encodes it and checks that decoding gives it back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hypothesis import strategies as st

from agent.core.model import (
    ModelRegistry,
    ObjectLink,
    ObjectModel,
    Operations,
    ResourceModel,
    ResourceType,
    Value,
)
from agent.core.path import MAX_ID, Path
from agent.core.values import ResourceValue

VALUE_TYPES = [
    ResourceType.STRING, ResourceType.INTEGER, ResourceType.UNSIGNED_INTEGER, ResourceType.FLOAT,
    ResourceType.BOOLEAN, ResourceType.OPAQUE, ResourceType.TIME, ResourceType.OBJLNK, ResourceType.CORELNK,
]

ids = st.integers(0, MAX_ID)
# Small ids most of the time (1-byte TLV ids), large ones often enough to reach the 16-bit forms.
some_ids = st.one_of(st.integers(0, 20), st.integers(250, 260), ids)


def values_of(rtype: ResourceType, finite: bool = False) -> st.SearchStrategy[Value]:
    """Values of an LwM2M type as Python holds them; ``finite`` for formats without inf (JSON)."""
    if rtype in (ResourceType.STRING, ResourceType.CORELNK):
        return st.text(max_size=40)
    if rtype in (ResourceType.INTEGER, ResourceType.TIME):
        return st.integers(-(2**63), 2**63 - 1)
    if rtype is ResourceType.UNSIGNED_INTEGER:
        return st.integers(0, 2**64 - 1)
    if rtype is ResourceType.FLOAT:
        return st.floats(allow_nan=False, allow_infinity=not finite)
    if rtype is ResourceType.BOOLEAN:
        return st.booleans()
    if rtype is ResourceType.OPAQUE:
        return st.binary(max_size=300)
    if rtype is ResourceType.OBJLNK:
        return st.builds(ObjectLink, ids, ids)
    raise AssertionError(rtype)


@st.composite
def object_models(draw: st.DrawFn, object_id: int) -> ObjectModel:
    rids = draw(st.lists(some_ids, min_size=1, max_size=6, unique=True))
    resources = {
        rid: ResourceModel(rid, f"res{rid}", Operations.RW, draw(st.sampled_from(VALUE_TYPES)),
                           multiple=draw(st.booleans()))
        for rid in rids
    }
    return ObjectModel(object_id, f"obj{object_id}", resources)


@st.composite
def registries(draw: st.DrawFn) -> ModelRegistry:
    registry = ModelRegistry()
    for oid in draw(st.lists(some_ids, min_size=1, max_size=3, unique=True)):
        registry.add(draw(object_models(oid)))
    return registry


@dataclass
class Case:
    models: ModelRegistry
    base: Path
    values: list[ResourceValue]


@st.composite
def resource_values(draw: st.DrawFn, model: ResourceModel, path: Path, finite: bool,
                    min_instances: int = 1) -> list[ResourceValue]:
    values = values_of(model.type, finite)
    if not model.multiple:
        return [ResourceValue(path, draw(values))]
    riids = draw(st.lists(some_ids, min_size=min_instances, max_size=3, unique=True))
    return [ResourceValue(path.child(riid), draw(values)) for riid in riids]


@st.composite
def instance_values(draw: st.DrawFn, model: ObjectModel, path: Path, finite: bool,
                    min_resources: int = 0) -> list[ResourceValue]:
    rids = draw(st.lists(st.sampled_from(sorted(model.resources)), min_size=min_resources, unique=True))
    out: list[ResourceValue] = []
    for rid in rids:
        out += draw(resource_values(model.resources[rid], path.child(rid), finite))
    return out


@st.composite
def object_values(draw: st.DrawFn, model: ObjectModel, finite: bool) -> list[ResourceValue]:
    # An instance without values vanishes from the flat shape, so every instance has some.
    iids = draw(st.lists(some_ids, min_size=1, max_size=3, unique=True))
    out: list[ResourceValue] = []
    for iid in iids:
        out += draw(instance_values(model, Path(model.id, iid), finite, min_resources=1))
    return out


@st.composite
def cases(draw: st.DrawFn, levels: tuple[int, ...] = (1, 2, 3, 4), finite: bool = False) -> Case:
    """A registry, a base path of one of ``levels`` and the values a Read of it would give."""
    models = draw(registries())
    level = draw(st.sampled_from(levels))
    if level == 0:
        values: list[ResourceValue] = []
        for model in models:
            values += draw(object_values(model, finite))
        return Case(models, Path(), values)
    model = draw(st.sampled_from(list(models)))
    if level == 1:
        return Case(models, Path(model.id), draw(object_values(model, finite)))
    instance = Path(model.id, draw(some_ids))
    if level == 2:
        return Case(models, instance, draw(instance_values(model, instance, finite)))
    rmodel = model.resources[draw(st.sampled_from(sorted(model.resources)))]
    resource = instance.child(rmodel.id)
    if level == 3:
        return Case(models, resource, draw(resource_values(rmodel, resource, finite, min_instances=0)))
    if not rmodel.multiple:
        # A resource instance needs a multiple resource: make this one so.
        rmodel = dataclasses.replace(rmodel, multiple=True)
        models.add(dataclasses.replace(model, resources={**model.resources, rmodel.id: rmodel}))
    path = resource.child(draw(some_ids))
    return Case(models, path, [ResourceValue(path, draw(values_of(rmodel.type, finite)))])


def single_value_cases(rtypes: list[ResourceType] | None = None) -> st.SearchStrategy[Case]:
    """One value at a resource or resource-instance path: what text/plain and opaque carry."""

    @st.composite
    def build(draw: st.DrawFn) -> Case:
        rtype = draw(st.sampled_from(rtypes or VALUE_TYPES))
        multiple = draw(st.booleans())
        oid, iid, rid = draw(some_ids), draw(some_ids), draw(some_ids)
        rmodel = ResourceModel(rid, "r", Operations.RW, rtype, multiple)
        models = ModelRegistry()
        models.add(ObjectModel(oid, "o", {rid: rmodel}))
        path = Path(oid, iid, rid, draw(some_ids)) if multiple else Path(oid, iid, rid)
        return Case(models, path, [ResourceValue(path, draw(values_of(rtype)))])

    return build()


def device_models() -> ModelRegistry:
    """Objects 1, 2, 3 and an object-link test object as the LwM2M 1.0 spec examples use them."""
    r = ResourceType

    def obj(oid: int, *resources: tuple[int, ResourceType, bool]) -> ObjectModel:
        return ObjectModel(oid, f"obj{oid}", {
            rid: ResourceModel(rid, f"res{rid}", Operations.RW, rtype, multiple)
            for rid, rtype, multiple in resources
        })

    models = ModelRegistry()
    models.add(obj(1, (0, r.INTEGER, False), (1, r.INTEGER, False), (2, r.INTEGER, False),
                   (3, r.INTEGER, False), (6, r.BOOLEAN, False), (7, r.STRING, False)))
    models.add(obj(2, (0, r.INTEGER, False), (1, r.INTEGER, False), (2, r.INTEGER, True),
                   (3, r.INTEGER, False)))
    models.add(obj(3, (0, r.STRING, False), (1, r.STRING, False), (2, r.STRING, False), (3, r.STRING, False),
                   (4, r.NONE, False), (6, r.INTEGER, True), (7, r.INTEGER, True), (8, r.INTEGER, True),
                   (9, r.INTEGER, False), (10, r.INTEGER, False), (11, r.INTEGER, True), (13, r.TIME, False),
                   (14, r.STRING, False), (15, r.STRING, False), (16, r.STRING, False)))
    models.add(obj(5, (0, r.OPAQUE, False), (1, r.STRING, False), (3, r.INTEGER, False)))
    models.add(obj(65, (0, r.OBJLNK, True), (1, r.STRING, False), (2, r.INTEGER, False)))
    models.add(obj(66, (0, r.STRING, False), (1, r.STRING, False), (2, r.OBJLNK, False)))
    models.add(obj(3303, (5700, r.FLOAT, False), (5701, r.STRING, False), (5601, r.FLOAT, False)))
    return models


# The Device object instance the LwM2M 1.0 spec uses in its examples (§6.4.3.1, §6.4.4).
DEVICE_VALUES = [
    ResourceValue(Path(3, 0, 0), "Open Mobile Alliance"),
    ResourceValue(Path(3, 0, 1), "Lightweight M2M Client"),
    ResourceValue(Path(3, 0, 2), "345000123"),
    ResourceValue(Path(3, 0, 3), "1.0"),
    ResourceValue(Path(3, 0, 6, 0), 1),
    ResourceValue(Path(3, 0, 6, 1), 5),
    ResourceValue(Path(3, 0, 7, 0), 3800),
    ResourceValue(Path(3, 0, 7, 1), 5000),
    ResourceValue(Path(3, 0, 8, 0), 125),
    ResourceValue(Path(3, 0, 8, 1), 900),
    ResourceValue(Path(3, 0, 9), 100),
    ResourceValue(Path(3, 0, 10), 15),
    ResourceValue(Path(3, 0, 11, 0), 0),
    ResourceValue(Path(3, 0, 13), 1367491215),
    ResourceValue(Path(3, 0, 14), "+02:00"),
    ResourceValue(Path(3, 0, 16), "U"),
]
