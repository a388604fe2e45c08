"""OMA LwM2M DDF XML: the object-definition format of the public OMA registry, read and written.

The registry's files (``<LWM2M><Object ObjectType="MODefinition">...``) are the reference for every
standard object, and Soracom Inventory accepts custom objects in the same format; so the agent reads
them as they are published, and writes any model back as DDF for upload. Parsing goes through
defusedxml with DTDs forbidden: a model file may come from anywhere, and no OMA file has a DTD.

The reader is as tolerant as the registry needs (element order, surrounding whitespace, a missing
``RangeEnumeration`` or version) and strict about everything a model means: ids, names, types,
operations, flags. ``Description2`` is not kept; the model has one description.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TypeVar

import defusedxml
import defusedxml.ElementTree as SafeET

from ..core.model import ObjectModel, ResourceModel, ResourceType
from . import checks
from .errors import NotAnObjectDefinition
from .parsed import ParsedModels
from .reader import ModelReader

_T = TypeVar("_T")

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_SCHEMA = "http://openmobilealliance.org/tech/profiles/LWM2M.xsd"

_OBJECT_FIELDS = frozenset(
    {
        "Name",
        "Description1",
        "Description2",
        "ObjectID",
        "ObjectURN",
        "LWM2MVersion",
        "ObjectVersion",
        "MultipleInstances",
        "Mandatory",
        "Resources",
    }
)
_ITEM_FIELDS = frozenset(
    {
        "Name",
        "Operations",
        "MultipleInstances",
        "Mandatory",
        "Type",
        "RangeEnumeration",
        "Units",
        "Description",
    }
)
_EXAMPLES = {
    "Name": "<Name>Temperature</Name>",
    "ObjectID": "<ObjectID>3303</ObjectID>",
    "MultipleInstances": "<MultipleInstances>Multiple</MultipleInstances> (or Single)",
    "Mandatory": "<Mandatory>Optional</Mandatory> (or Mandatory)",
    "Resources": '<Resources> holding one <Item ID="..."> per resource',
    "Operations": "<Operations>R</Operations> (R, W, RW, E, or empty)",
    "Type": "<Type>Float</Type> (empty for an executable resource)",
}
_LWM2M_FIX = 'an object model file is <LWM2M> holding <Object ObjectType="MODefinition"> elements'


def _local(tag: object) -> str:
    # Tolerate a namespace on the OMA elements: only the local name carries meaning.
    name = tag if isinstance(tag, str) else ""
    return name.rpartition("}")[2]


def _text(element: ET.Element) -> str:
    return "".join(element.itertext())


class _Reader(ModelReader):
    """Reads one DDF XML document: its elements, their children and the text of each field."""

    def children(self, parent: ET.Element, where: str, known: frozenset[str]) -> dict[str, ET.Element]:
        found: dict[str, ET.Element] = {}
        for child in parent:
            tag = _local(child.tag)
            if tag in found and tag in known:
                raise self.error(f"{where} / {tag}", f"<{tag}> appears twice", f"keep one <{tag}>")
            found.setdefault(tag, child)
        return found

    def field(
        self,
        found: dict[str, ET.Element],
        tag: str,
        where: str,
        convert: Callable[[str], _T],
        optional: bool = False,
    ) -> _T:
        """Read and check the text of child ``tag``; an absent optional child reads as empty."""
        element = found.get(tag)
        if element is None and not optional:
            raise self.error(f"{where} / {tag}", f"<{tag}> is missing", f"add {_EXAMPLES[tag]}")
        return self.check(f"{where} / {tag}", convert, "" if element is None else _text(element))

    def document(self, data: bytes) -> ParsedModels:
        if not data.strip():
            raise self.error("", "file is empty", _LWM2M_FIX)
        root = self.parse(data)
        tag = _local(root.tag)
        if tag == "DDFList":
            raise NotAnObjectDefinition(
                self.source,
                "DDFList",
                "this is the OMA registry index, not an object definition",
                "load the object files it lists (N.xml) instead",
            )
        if tag == "units":
            raise NotAnObjectDefinition(
                self.source,
                "units",
                "this is the OMA registry's list of SenML units, not an object definition",
                "load object definition files instead",
            )
        if tag != "LWM2M":
            raise self.error(tag, f"root element is <{tag}>, not <LWM2M>", _LWM2M_FIX)
        objects = [child for child in root if _local(child.tag) == "Object"]
        if not objects:
            raise self.error("LWM2M", "no <Object> element in <LWM2M>", _LWM2M_FIX)
        models = [self.object(element, index, len(objects)) for index, element in enumerate(objects, 1)]
        return ParsedModels(models, self.warnings)

    def parse(self, data: bytes) -> ET.Element:
        try:
            root: ET.Element = SafeET.fromstring(data, forbid_dtd=True)
        except defusedxml.DTDForbidden:
            raise self.error(
                "DOCTYPE",
                "the file declares a DTD, which is refused for safety (no OMA model file has one)",
                "remove the <!DOCTYPE ...> declaration",
            ) from None
        except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
            raise self.error(
                "DOCTYPE",
                "the file declares XML entities, which are refused for safety",
                "remove the entity declarations and write the text out",
            ) from None
        except ET.ParseError as problem:
            raise self.error(
                "", f"not well-formed XML ({problem})", "fix the XML syntax at that position"
            ) from None
        except (ValueError, LookupError) as problem:
            # defusedxml's other refusals, and an unknown encoding in the XML declaration.
            raise self.error("", f"cannot be read as XML ({problem})", "save the file as UTF-8 XML") from None
        return root

    def object(self, element: ET.Element, index: int, count: int) -> ObjectModel:
        where = f"Object #{index}" if count > 1 else "Object"
        kind = element.get("ObjectType")
        if kind is not None and kind.strip() == "CommonResources":
            raise NotAnObjectDefinition(
                self.source,
                where,
                "this holds the registry's reusable resources (CommonResources), not an object definition",
                "load object definition files instead",
            )
        if kind is not None and kind.strip() != "MODefinition":
            raise self.error(
                where, f'ObjectType is "{kind}", not "MODefinition"', 'write ObjectType="MODefinition"'
            )
        found = self.children(element, where, _OBJECT_FIELDS)
        object_id = self.field(found, "ObjectID", where, _object_id)
        where = f"Object {object_id}"
        model = ObjectModel(
            id=object_id,
            name=self.field(found, "Name", where, checks.name),
            resources={},
            multiple=self.field(found, "MultipleInstances", where, checks.multiple),
            mandatory=self.field(found, "Mandatory", where, checks.mandatory),
            version=self.field(found, "ObjectVersion", where, checks.version, optional=True),
            lwm2m_version=self.field(found, "LWM2MVersion", where, checks.version, optional=True),
            urn=self.field(found, "ObjectURN", where, checks.text, optional=True),
            description=self.field(found, "Description1", where, checks.text, optional=True),
        )
        holder = found.get("Resources")
        if holder is None:
            raise self.error(
                f"{where} / Resources", "<Resources> is missing", f"add {_EXAMPLES['Resources']}"
            )
        resources: dict[int, ResourceModel] = {}
        items = [child for child in holder if _local(child.tag) == "Item"]
        if not items:
            # The OMA schema requires at least one <Item>; an object with no resource serves nothing.
            raise self.error(
                f"{where} / Resources", "no <Item> in <Resources>", "define at least one resource"
            )
        for position, item in enumerate(items, 1):
            resource = self.item(item, where, position)
            self.add_resource(
                resources, resource, f"{where} / Item {resource.id}", "give each <Item> its own ID"
            )
        return dataclasses.replace(model, resources=resources)

    def item(self, item: ET.Element, parent: str, position: int) -> ResourceModel:
        raw_id = item.get("ID")
        if raw_id is None:
            raise self.error(
                f"{parent} / Item #{position}",
                "<Item> has no ID attribute",
                'write <Item ID="n"> with its id',
            )
        resource_id = self.check(f"{parent} / Item #{position} / ID", _resource_id, raw_id)
        where = f"{parent} / Item {resource_id}"
        found = self.children(item, where, _ITEM_FIELDS)
        ops = self.field(found, "Operations", where, checks.operations)
        declared = self.field(found, "Type", where, checks.resource_type)
        rtype = self.resource_type(ops, declared, f"{where} / Type")
        return ResourceModel(
            id=resource_id,
            name=self.field(found, "Name", where, checks.name),
            operations=ops,
            type=rtype,
            multiple=self.field(found, "MultipleInstances", where, checks.multiple),
            mandatory=self.field(found, "Mandatory", where, checks.mandatory),
            range_enumeration=self.field(found, "RangeEnumeration", where, checks.text, optional=True),
            units=self.field(found, "Units", where, checks.text, optional=True),
            description=self.field(found, "Description", where, checks.text, optional=True),
        )


def _object_id(raw: str) -> int:
    return checks.identifier(raw, "object")


def _resource_id(raw: str) -> int:
    return checks.identifier(raw, "resource")


def parse_ddf(data: bytes, source: str = "<ddf>") -> ParsedModels:
    """Read a DDF XML document (one or more ``<Object>``); raise ModelError naming ``source``.

    Raises :class:`NotAnObjectDefinition` (a ModelError) for the registry's companion files.
    """
    return _Reader(source).document(data)


def _sub(parent: ET.Element, tag: str, value: str) -> None:
    ET.SubElement(parent, tag).text = value


def dump_ddf(model: ObjectModel) -> bytes:
    """Write one model as a DDF XML document (UTF-8, elements in the order of the OMA schema)."""
    root = ET.Element("LWM2M", {"xmlns:xsi": _XSI, "xsi:noNamespaceSchemaLocation": _SCHEMA})
    obj = ET.SubElement(root, "Object", {"ObjectType": "MODefinition"})
    _sub(obj, "Name", model.name)
    _sub(obj, "Description1", model.description)
    _sub(obj, "ObjectID", str(model.id))
    _sub(obj, "ObjectURN", model.urn)
    _sub(obj, "LWM2MVersion", model.lwm2m_version)
    _sub(obj, "ObjectVersion", model.version)
    _sub(obj, "MultipleInstances", "Multiple" if model.multiple else "Single")
    _sub(obj, "Mandatory", "Mandatory" if model.mandatory else "Optional")
    resources = ET.SubElement(obj, "Resources")
    for resource in model.resources.values():
        item = ET.SubElement(resources, "Item", {"ID": str(resource.id)})
        _sub(item, "Name", resource.name)
        _sub(item, "Operations", resource.operations.value)
        _sub(item, "MultipleInstances", "Multiple" if resource.multiple else "Single")
        _sub(item, "Mandatory", "Mandatory" if resource.mandatory else "Optional")
        # The registry writes an executable resource's type as an empty element, not "none".
        _sub(item, "Type", "" if resource.type is ResourceType.NONE else resource.type.value)
        _sub(item, "RangeEnumeration", resource.range_enumeration)
        _sub(item, "Units", resource.units)
        _sub(item, "Description", resource.description)
    _sub(obj, "Description2", "")
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True, short_empty_elements=False) + b"\n"
