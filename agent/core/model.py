"""Object-model types: what an LwM2M object and its resources are, independent of any file format.

The loaders in ``agent.models`` build these from OMA DDF XML or JSON; the codecs use them to type
untyped payloads (TLV, text); the request handlers use them to enforce operations.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from .errors import NotFound
from .path import Path


class ResourceType(enum.Enum):
    """The LwM2M data types (``none`` is the type of executable resources)."""

    STRING = "String"
    INTEGER = "Integer"
    UNSIGNED_INTEGER = "Unsigned Integer"
    FLOAT = "Float"
    BOOLEAN = "Boolean"
    OPAQUE = "Opaque"
    TIME = "Time"
    OBJLNK = "Objlnk"
    CORELNK = "Corelnk"
    NONE = "none"

    @classmethod
    def parse(cls, text: str) -> ResourceType:
        """Parse a type name as the OMA registry spells it (case and spacing vary between files)."""
        key = " ".join(text.split()).lower()
        found = _TYPE_ALIASES.get(key)
        if found is None:
            raise ValueError(
                f"unknown resource type {text!r}; expected one of "
                + ", ".join(t.value for t in ResourceType)
            )
        return found


_TYPE_ALIASES: dict[str, ResourceType] = {t.value.lower(): t for t in ResourceType}
_TYPE_ALIASES.update(
    {
        "": ResourceType.NONE,
        "unsignedinteger": ResourceType.UNSIGNED_INTEGER,
        "unsigned_integer": ResourceType.UNSIGNED_INTEGER,
        "unsigned int": ResourceType.UNSIGNED_INTEGER,
        "uinteger": ResourceType.UNSIGNED_INTEGER,
        "int": ResourceType.INTEGER,
        "bool": ResourceType.BOOLEAN,
        "objectlink": ResourceType.OBJLNK,
        "objlink": ResourceType.OBJLNK,
        "corelink": ResourceType.CORELNK,
        "core link": ResourceType.CORELNK,
    }
)


class Operations(enum.Enum):
    """What a server may do with a resource."""

    NONE = ""
    R = "R"
    W = "W"
    RW = "RW"
    E = "E"

    @property
    def readable(self) -> bool:
        return self in (Operations.R, Operations.RW)

    @property
    def writable(self) -> bool:
        return self in (Operations.W, Operations.RW)

    @property
    def executable(self) -> bool:
        return self is Operations.E

    @classmethod
    def parse(cls, text: str) -> Operations:
        key = text.strip().upper()
        if key == "":
            return cls.NONE
        try:
            return cls(key)
        except ValueError:
            raise ValueError(f"unknown operations {text!r}; expected R, W, RW, E or empty") from None


class ObjectLink(NamedTuple):
    """An Objlnk value: a reference to an object instance (``65535:65535`` is the null link)."""

    object_id: int
    instance_id: int

    def __str__(self) -> str:
        return f"{self.object_id}:{self.instance_id}"

    @classmethod
    def parse(cls, text: str) -> ObjectLink:
        try:
            a, b = text.split(":")
            link = cls(int(a), int(b))
        except ValueError:
            raise ValueError(f"not an object link (expected 'OBJ:INST'): {text!r}") from None
        if not (0 <= link.object_id <= 65535 and 0 <= link.instance_id <= 65535):
            raise ValueError(f"object link out of range: {text!r}")
        return link


# A resource value as Python holds it. Time is seconds since the epoch (int); Corelnk is its text.
Value = str | int | float | bool | bytes | ObjectLink


@dataclass(frozen=True, slots=True)
class ResourceModel:
    """One resource of an object model."""

    id: int
    name: str
    operations: Operations
    type: ResourceType
    multiple: bool = False
    mandatory: bool = False
    range_enumeration: str = ""
    units: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class ObjectModel:
    """One LwM2M object: its identity, version and resources."""

    id: int
    name: str
    resources: Mapping[int, ResourceModel]
    multiple: bool = True
    mandatory: bool = False
    version: str = "1.0"
    lwm2m_version: str = "1.0"
    urn: str = ""
    description: str = ""

    def version_attributes(self) -> dict[str, str | None]:
        """``{"ver": ...}`` for a link to this object, empty for 1.0 (the version links leave out)."""
        return {} if self.version in ("", "1.0") else {"ver": self.version}

    def resource(self, resource_id: int) -> ResourceModel:
        try:
            return self.resources[resource_id]
        except KeyError:
            raise NotFound(f"object {self.id} has no resource {resource_id}") from None


@dataclass
class ModelRegistry:
    """The object models an agent or a server knows, by object id.

    Codecs take a registry to type values; a missing model is not an error for self-describing
    formats (SenML, LwM2M JSON) but is for TLV and text, which carry no type.
    """

    models: dict[int, ObjectModel] = field(default_factory=dict)

    def add(self, model: ObjectModel) -> None:
        """Add a model, replacing any model of the same object id (``agent.models.newest_models``
        picks among versions when loading files)."""
        self.models[model.id] = model

    def update(self, models: Iterable[ObjectModel]) -> None:
        for model in models:
            self.add(model)

    def get(self, object_id: int) -> ObjectModel | None:
        return self.models.get(object_id)

    def __contains__(self, object_id: object) -> bool:
        return object_id in self.models

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)

    def object(self, object_id: int) -> ObjectModel:
        model = self.models.get(object_id)
        if model is None:
            raise NotFound(f"no object model for object {object_id}")
        return model

    def resource(self, path: Path) -> ResourceModel | None:
        """The model of the resource a path of level 3 or 4 names, or None if unknown."""
        if len(path) < 3:
            return None
        model = self.models.get(path[0])
        if model is None:
            return None
        return model.resources.get(path[2])
