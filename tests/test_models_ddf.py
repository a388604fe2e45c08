"""DDF XML loading: every file of the public OMA registry, known values, and malformed files refused.

The registry (its copy in tests/data/oma-registry) is input nobody here wrote, so it keeps the
reader honest; the malformed files are written to tmp_path, one fault each, and each must be refused
with a one-line message naming the file, the element and a fix.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import OMA_REGISTRY

from agent.core.model import Operations, ResourceType
from agent.models import (
    ModelError,
    NotAnObjectDefinition,
    load_model_file,
    load_models,
    parse_ddf,
    validate_paths,
)

REGISTRY = OMA_REGISTRY
COMPANIONS = {"DDF.xml", "Common.xml", "LWM2M_senml_units.xml"}

def registry_object_files() -> list[Path]:
    files = sorted(REGISTRY.glob("*.xml")) + sorted((REGISTRY / "version_history").glob("*.xml"))
    return [path for path in files if path.name not in COMPANIONS]


def test_every_object_file_of_the_registry_loads_quickly() -> None:
    expected = registry_object_files()
    started = time.perf_counter()
    result = load_models([REGISTRY])
    elapsed = time.perf_counter() - started

    assert [str(problem) for problem in result.refused] == []
    assert sorted(loaded.path for loaded in result.loaded) == sorted(str(path) for path in expected)
    assert len(expected) > 740
    # Each registry file holds exactly one object definition.
    assert all(len(loaded.models) == 1 for loaded in result.loaded)
    assert {Path(skipped.file).name for skipped in result.skipped} == COMPANIONS
    # ~0.5 s on one core of the development machine; the bound only catches a pathological slowdown.
    assert elapsed < 8.0, f"loading the registry took {elapsed:.2f} s"


def test_registry_slips_are_warnings_that_name_the_element() -> None:
    result = load_models([REGISTRY])
    found = {(Path(warning.file).name, warning.element) for warning in result.warnings}
    assert found == {
        ("10260-1_0.xml", "Object 10260 / Item 3 / Type"),  # an executable resource typed String
        ("10482.xml", "Object 10482 / Item 5 / Type"),  # a readable resource with no type
        ("10482-1_0.xml", "Object 10482 / Item 5 / Type"),
    }
    old = load_model_file(REGISTRY / "version_history" / "10260-1_0.xml").models[0]
    assert old.resources[3].operations is Operations.E
    assert old.resources[3].type is ResourceType.NONE


def test_registry_of_all_versions_keeps_the_newest() -> None:
    registry = load_models([REGISTRY]).registry()
    assert registry.object(3).version == "1.2"
    assert registry.object(4).version == "1.3"
    assert registry.object(3303).version == "1.1"
    old_device = load_model_file(REGISTRY / "version_history" / "3-1_0.xml").models[0]
    assert old_device.version == "1.0"  # 3-1_0.xml has no <ObjectVersion>: the default
    assert old_device.lwm2m_version == "1.0"


def test_temperature_object_reads_as_published() -> None:
    parsed = load_model_file(REGISTRY / "3303.xml")
    assert parsed.warnings == []
    [model] = parsed.models
    assert (model.id, model.name, model.version, model.lwm2m_version) == (3303, "Temperature", "1.1", "1.0")
    assert model.urn == "urn:oma:lwm2m:ext:3303:1.1"
    assert model.multiple is True and model.mandatory is False
    assert model.description.startswith("This IPSO object should be used with a temperature sensor")
    assert list(model.resources) == [5700, 5601, 5602, 5603, 5604, 5701, 5605, 5750, 5518, 6050, 6042, 6049]
    value = model.resource(5700)
    assert (value.name, value.operations, value.type) == ("Sensor Value", Operations.R, ResourceType.FLOAT)
    assert value.mandatory is True and value.multiple is False
    reset = model.resource(5605)
    assert (reset.operations, reset.type) == (Operations.E, ResourceType.NONE)
    fraction = model.resource(6050)
    assert (fraction.range_enumeration, fraction.units) == ("0..1", "s")
    assert model.resource(5750).operations is Operations.RW


def test_device_1_0_and_the_rarer_types() -> None:
    device = load_model_file(REGISTRY / "version_history" / "3-1_0.xml").models[0]
    assert device.multiple is False and device.mandatory is True
    assert device.resource(11).multiple is True and device.resource(11).mandatory is True
    assert device.resource(13).type is ResourceType.TIME
    assert device.resource(22).type is ResourceType.OBJLNK
    server = load_model_file(REGISTRY / "1.xml").models[0]
    assert ResourceType.UNSIGNED_INTEGER in {resource.type for resource in server.resources.values()}
    links = load_model_file(REGISTRY / "18831.xml").models[0]
    assert ResourceType.CORELNK in {resource.type for resource in links.resources.values()}


@pytest.mark.parametrize("name", sorted(COMPANIONS))
def test_companion_file_named_explicitly_is_refused_with_what_it_is(name: str) -> None:
    lines, loaded, refused = validate_paths([REGISTRY / name])
    assert (loaded, refused) == (0, 1)
    assert lines[0].startswith(f"{REGISTRY / name}: ")
    assert "not an object definition" in lines[0]


def test_validate_paths_over_the_registry_reports_skips_and_warnings_but_no_refusal() -> None:
    lines, loaded, refused = validate_paths([REGISTRY])
    assert refused == 0
    assert loaded == len(registry_object_files())
    assert sum(": skipped: " in line for line in lines) == 3
    assert sum(": warning: " in line for line in lines) == 3


# ---------------------------------------------------------------------------------------------
# Malformed files, one fault each.

ITEM = """<Item ID="5700"><Name>Sensor Value</Name><Operations>R</Operations>
<MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>Float</Type>
<RangeEnumeration></RangeEnumeration><Units>Cel</Units><Description>value</Description></Item>"""


def ddf(item: str = ITEM, head: str = "", object_type: str = "MODefinition", object_id: str = "3303") -> str:
    head = (
        head
        or f"""<Name>Temperature</Name><Description1>d</Description1><ObjectID>{object_id}</ObjectID>
<ObjectURN>urn:oma:lwm2m:ext:3303</ObjectURN><LWM2MVersion>1.0</LWM2MVersion><ObjectVersion>1.1</ObjectVersion>
<MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>"""
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<LWM2M><Object ObjectType="{object_type}">{head}<Resources>{item}</Resources></Object></LWM2M>"""


def with_item(old: str, new: str) -> str:
    assert old in ITEM
    return ddf(ITEM.replace(old, new))


def with_head(old: str, new: str) -> str:
    base = ddf().split("<Resources>")[0].split('<Object ObjectType="MODefinition">')[1]
    assert old in base
    return ddf(head=base.replace(old, new))


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<LWM2M><Object><Name>&lol2;</Name></Object></LWM2M>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE LWM2M [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<LWM2M><Object><Name>&secret;</Name></Object></LWM2M>"""

MALFORMED = [
    # (case, file content, element named, words of the reason)
    ("empty", "", "", "file is empty"),
    ("blank", "  \n\t\n", "", "file is empty"),
    ("not well-formed", "<LWM2M><Object></LWM2M>", "", "not well-formed XML (mismatched tag: line 1"),
    ("truncated", ddf()[:-30], "", "not well-formed XML"),
    ("billion laughs", BILLION_LAUGHS, "DOCTYPE", "DTD"),
    ("external entity", EXTERNAL_ENTITY, "DOCTYPE", "DTD"),
    ("unknown encoding", '<?xml version="1.0" encoding="klingon"?><LWM2M/>', "", "cannot be read as XML"),
    ("wrong root", "<html><body/></html>", "html", "root element is <html>, not <LWM2M>"),
    ("no object", "<LWM2M></LWM2M>", "LWM2M", "no <Object> element"),
    ("object type", ddf(object_type="Thing"), "Object", 'ObjectType is "Thing"'),
    (
        "object id missing",
        with_head("<ObjectID>3303</ObjectID>", ""),
        "Object / ObjectID",
        "<ObjectID> is missing",
    ),
    ("object id text", ddf(object_id="temp"), "Object / ObjectID", "not a decimal integer"),
    ("object id negative", ddf(object_id="-1"), "Object / ObjectID", "not a decimal integer"),
    ("object id reserved", ddf(object_id="65535"), "Object / ObjectID", "out of range"),
    (
        "object name empty",
        with_head("<Name>Temperature</Name>", "<Name>  </Name>"),
        "Object 3303 / Name",
        "empty",
    ),
    ("object name missing", with_head("<Name>Temperature</Name>", ""), "Object 3303 / Name", "missing"),
    (
        "object multiplicity",
        with_head(
            "<MultipleInstances>Multiple</MultipleInstances>", "<MultipleInstances>Many</MultipleInstances>"
        ),
        "Object 3303 / MultipleInstances",
        "neither Multiple nor Single",
    ),
    (
        "object mandatory",
        with_head("<Mandatory>Optional</Mandatory>", "<Mandatory>Required</Mandatory>"),
        "Object 3303 / Mandatory",
        "neither Mandatory nor Optional",
    ),
    (
        "object version",
        with_head("<ObjectVersion>1.1</ObjectVersion>", "<ObjectVersion>one</ObjectVersion>"),
        "Object 3303 / ObjectVersion",
        "not MAJOR.MINOR",
    ),
    ("no resources", ddf(item=""), "Object 3303 / Resources", "no <Item>"),
    ("item without id", with_item('<Item ID="5700">', "<Item>"), "Object 3303 / Item #1", "no ID attribute"),
    (
        "item id text",
        with_item('ID="5700"', 'ID="x1"'),
        "Object 3303 / Item #1 / ID",
        "not a decimal integer",
    ),
    ("item id too big", with_item('ID="5700"', 'ID="70000"'), "Object 3303 / Item #1 / ID", "out of range"),
    ("duplicate item", ddf(ITEM + ITEM), "Object 3303 / Item 5700", "resource id 5700 appears twice"),
    (
        "unknown type",
        with_item("<Type>Float</Type>", "<Type>Flot</Type>"),
        "Object 3303 / Item 5700 / Type",
        "unknown resource type 'Flot'",
    ),
    (
        "type missing",
        with_item("<Type>Float</Type>", ""),
        "Object 3303 / Item 5700 / Type",
        "<Type> is missing",
    ),
    (
        "type twice",
        with_item("<Type>Float</Type>", "<Type>Float</Type><Type>Integer</Type>"),
        "Object 3303 / Item 5700 / Type",
        "appears twice",
    ),
    (
        "unknown operations",
        with_item("<Operations>R</Operations>", "<Operations>RX</Operations>"),
        "Object 3303 / Item 5700 / Operations",
        "unknown operations 'RX'",
    ),
    (
        "read-execute",
        with_item("<Operations>R</Operations>", "<Operations>RE</Operations>"),
        "Object 3303 / Item 5700 / Operations",
        "mix Execute",
    ),
    (
        "operations missing",
        with_item("<Operations>R</Operations>", ""),
        "Object 3303 / Item 5700 / Operations",
        "missing",
    ),
    (
        "item multiplicity",
        with_item(
            "<MultipleInstances>Single</MultipleInstances>", "<MultipleInstances>1</MultipleInstances>"
        ),
        "Object 3303 / Item 5700 / MultipleInstances",
        "neither Multiple nor Single",
    ),
    (
        "item mandatory",
        with_item("<Mandatory>Mandatory</Mandatory>", "<Mandatory>yes</Mandatory>"),
        "Object 3303 / Item 5700 / Mandatory",
        "neither Mandatory nor Optional",
    ),
    (
        "item name",
        with_item("<Name>Sensor Value</Name>", "<Name></Name>"),
        "Object 3303 / Item 5700 / Name",
        "name is empty",
    ),
    (
        "item name lines",
        with_item("<Name>Sensor Value</Name>", "<Name>Sensor\nValue</Name>"),
        "Object 3303 / Item 5700 / Name",
        "several lines",
    ),
]


@pytest.mark.parametrize(
    ("content", "element", "reason"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED]
)
def test_malformed_file_is_refused_naming_file_element_and_fix(
    tmp_path: Path, content: str, element: str, reason: str
) -> None:
    path = tmp_path / "broken.xml"
    path.write_text(content, encoding="utf-8")
    lines, loaded, refused = validate_paths([path])
    assert (loaded, refused) == (0, 1)
    [line] = lines
    assert "\n" not in line
    prefix = f"{path}: {element}: " if element else f"{path}: "
    assert line.startswith(prefix), line
    assert reason in line
    assert "; fix: " in line
    with pytest.raises(ModelError) as caught:
        load_model_file(path)
    assert (caught.value.file, caught.value.element) == (str(path), element)


def test_flags_are_case_insensitive_and_whitespace_is_trimmed(tmp_path: Path) -> None:
    content = with_item(
        "<MultipleInstances>Single</MultipleInstances>", "<MultipleInstances> multiple </MultipleInstances>"
    )
    content = content.replace("<Mandatory>Optional</Mandatory>", "<Mandatory>OPTIONAL</Mandatory>")
    content = content.replace("<Type>Float</Type>", "<Type>\n  float\n</Type>")
    [model] = parse_ddf(content.encode(), "t.xml").models
    assert model.mandatory is False
    assert model.resource(5700).multiple is True
    assert model.resource(5700).type is ResourceType.FLOAT


def test_missing_optional_elements_take_their_defaults() -> None:
    head = """<Name>T</Name><ObjectID>9</ObjectID><MultipleInstances>Single</MultipleInstances>
    <Mandatory>Mandatory</Mandatory>"""
    item = """<Item ID="0"><Name>Go</Name><Operations>E</Operations>
    <MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type></Type></Item>"""
    [model] = parse_ddf(ddf(item=item, head=head).encode()).models
    assert (model.version, model.lwm2m_version, model.urn, model.description) == ("1.0", "1.0", "", "")
    go = model.resource(0)
    assert (go.operations, go.type, go.range_enumeration, go.units) == (
        Operations.E,
        ResourceType.NONE,
        "",
        "",
    )


def test_several_objects_in_one_file_and_errors_name_the_right_one() -> None:
    first = ddf().split("<LWM2M>")[1].split("</LWM2M>")[0]
    second = first.replace("<ObjectID>3303</ObjectID>", "<ObjectID>3304</ObjectID>")
    models = parse_ddf(f"<LWM2M>{first}{second}</LWM2M>".encode()).models
    assert [model.id for model in models] == [3303, 3304]
    bad = second.replace("<Type>Float</Type>", "<Type>Real</Type>")
    with pytest.raises(ModelError) as caught:
        parse_ddf(f"<LWM2M>{first}{bad}</LWM2M>".encode(), "two.xml")
    assert caught.value.element == "Object 3304 / Item 5700 / Type"
    no_id = second.replace("<ObjectID>3304</ObjectID>", "")
    with pytest.raises(ModelError) as caught:
        parse_ddf(f"<LWM2M>{first}{no_id}</LWM2M>".encode(), "two.xml")
    assert caught.value.element == "Object #2 / ObjectID"


def test_namespaced_document_loads() -> None:
    content = ddf().replace("<LWM2M>", '<LWM2M xmlns="urn:example:lwm2m">')
    [model] = parse_ddf(content.encode()).models
    assert model.resource(5700).units == "Cel"


def test_common_resources_file_is_not_an_object_definition() -> None:
    with pytest.raises(NotAnObjectDefinition):
        parse_ddf(ddf(object_type="CommonResources").encode())


# ---------------------------------------------------------------------------------------------
# Folders.


def test_folder_walk_reads_xml_and_json_recursively_and_passes_over_other_files(tmp_path: Path) -> None:
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "a.xml").write_text(ddf())
    (tmp_path / "nested" / "deeper" / "b.XML").write_text(ddf(object_id="3304"))
    (tmp_path / "nested" / "schema.xsd").write_text("<xs:schema/>")
    (tmp_path / "README.md").write_text("# models")
    (tmp_path / ".hidden" / "c.xml").write_text("not xml")
    (tmp_path / "nested" / "broken.json").write_text("{")
    result = load_models([tmp_path])
    assert sorted(model.id for model in result.models) == [3303, 3304]
    assert [Path(problem.file).name for problem in result.refused] == ["broken.json"]
    lines, loaded, refused = validate_paths([tmp_path, tmp_path / "missing.xml", tmp_path / "README.md"])
    assert (loaded, refused) == (2, 3)
    assert lines[1] == f"{tmp_path / 'missing.xml'}: no such file or folder; fix: check the path"
    assert lines[2].startswith(f"{tmp_path / 'README.md'}: not a model file (.xml or .json)")


def test_a_fifo_named_like_a_model_is_refused_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.xml")
    lines, _, refused = validate_paths([tmp_path])
    assert refused == 1
    expected = "not a regular file; fix: give a model file, or a folder of them"
    assert lines == [f"{tmp_path / 'pipe.xml'}: {expected}"]


def test_oversized_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge.xml"
    with open(path, "wb") as stream:
        stream.truncate(9 * 1024 * 1024)
    lines, _, refused = validate_paths([path])
    assert refused == 1
    assert "larger than 8 MiB" in lines[0]


# ---------------------------------------------------------------------------------------------
# Properties: whatever the bytes, the reader answers with models or a ModelError, never a crash.


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash_the_reader(data: bytes) -> None:
    try:
        parse_ddf(data, "fuzz.xml")
    except ModelError as problem:
        assert str(problem).startswith("fuzz.xml: ")


FIELDS = ["Name", "Operations", "MultipleInstances", "Mandatory", "Type", "RangeEnumeration", "Units"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=st.text(max_size=12))
def test_any_text_in_an_item_field_loads_or_is_refused_naming_that_field(field: str, value: str) -> None:
    start, end = ITEM.index(f"<{field}>"), ITEM.index(f"</{field}>")
    escaped = value.replace("&", "&amp;").replace("<", "&lt;")
    content = ddf(ITEM[: start + len(field) + 2] + escaped + ITEM[end:])
    try:
        [model] = parse_ddf(content.encode("utf-8", "surrogatepass"), "f.xml").models
    except ModelError as problem:
        # Characters XML cannot carry fail the parse itself; anything else is this field's fault.
        assert problem.element in (f"Object 3303 / Item 5700 / {field}", "")
    else:
        assert 5700 in model.resources
