"""The models the agent ships in objects/: exactly the objects it implements, at the right versions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import OMA_REGISTRY

from agent.core.model import Operations, ResourceType
from agent.models import ModelError, dump_ddf, parse_ddf, shipped_models, shipped_objects_dir, validate_paths

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = OMA_REGISTRY

EXPECTED = {
    # object id: (name, object version); 0, 3, 4 and 5 at 1.0, the versions LwM2M 1.0 servers know;
    # 1 at 1.1 for its communication retry resources (17-20), announced without ver= to a 1.0 server.
    0: ("LWM2M Security", "1.0"),
    1: ("LwM2M Server", "1.1"),
    3: ("Device", "1.0"),
    4: ("Connectivity Monitoring", "1.0"),
    5: ("Firmware Update", "1.0"),
    6: ("Location", "1.0"),
    3200: ("Digital Input", "1.1"),
    3201: ("Digital Output", "1.1"),
    3303: ("Temperature", "1.1"),
    3304: ("Humidity", "1.1"),
    3311: ("Light Control", "1.0"),
    3342: ("On/Off switch", "1.1"),
    3347: ("Push button", "1.1"),
    30000: ("Fan", "1.0"),
}


def test_shipped_models_are_exactly_the_objects_the_agent_implements() -> None:
    registry = shipped_models()
    assert {model.id: (model.name, model.version) for model in registry} == EXPECTED
    assert {model.id for model in registry if model.lwm2m_version != "1.0"} == {1}


def test_objects_folder_is_found_beside_the_package_and_validates_cleanly() -> None:
    assert shipped_objects_dir() == ROOT / "objects"
    lines, loaded, refused = validate_paths([shipped_objects_dir()])
    assert (lines, loaded, refused) == ([], len(EXPECTED), 0)


def test_each_call_returns_a_registry_of_its_own() -> None:
    first = shipped_models()
    first.models.pop(3)
    assert 3 in shipped_models()


def test_standard_files_keep_their_oma_licence_and_match_the_registry() -> None:
    standard = sorted((ROOT / "objects").glob("*.xml"))
    assert len(standard) == len(EXPECTED) - 1
    for path in standard:
        text = path.read_text(encoding="utf-8-sig")
        assert "Open Mobile Alliance" in text and "Redistribution and use" in text, path.name
        original = REGISTRY / "version_history" / path.name
        assert path.read_bytes() == original.read_bytes(), f"{path.name} differs from the registry's copy"


def test_known_values_of_shipped_standard_objects() -> None:
    registry = shipped_models()
    security = registry.object(0)
    assert security.resource(0).name == "LWM2M  Server URI"  # the two spaces are the registry's
    assert (security.resource(5).name, security.resource(5).type) == ("Secret Key", ResourceType.OPAQUE)
    server = registry.object(1)
    assert server.resource(8).name == "Registration Update Trigger"
    assert server.resource(8).operations is Operations.E
    device = registry.object(3)
    assert device.resource(4).operations is Operations.E and device.resource(4).mandatory  # Reboot
    firmware = registry.object(5)
    assert sorted(firmware.resources) == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert registry.object(3347).resource(5500).name == "Digital Input State"
    assert registry.object(3347).resource(5500).type is ResourceType.BOOLEAN


def test_custom_fan_object_is_a_private_json_model_that_converts_to_ddf() -> None:
    fan = shipped_models().object(30000)
    assert 26241 <= fan.id <= 32768
    assert len(fan.resources) <= 20  # Soracom's limit for a custom object
    assert fan.resource(5851).range_enumeration == "0..100"
    assert fan.resource(26242).operations is Operations.E
    assert fan.resource(26242).type is ResourceType.NONE
    assert parse_ddf(dump_ddf(fan)).models == [fan]


def test_a_missing_objects_folder_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="pip install -e"):
        shipped_models(tmp_path / "nowhere")


def test_a_broken_shipped_file_stops_loading_with_its_name(tmp_path: Path) -> None:
    folder = tmp_path / "objects"
    shutil.copytree(ROOT / "objects", folder)
    (folder / "custom" / "broken.json").write_text('{"objectId": 30001}')
    with pytest.raises(ModelError) as caught:
        shipped_models(folder)
    assert caught.value.file == str(folder.resolve() / "custom" / "broken.json")


def test_highest_version_wins_when_two_files_define_an_object(tmp_path: Path) -> None:
    shutil.copy(ROOT / "objects" / "3303-1_1.xml", tmp_path)
    shutil.copy(REGISTRY / "version_history" / "3303-1_0.xml", tmp_path)
    assert shipped_models(tmp_path).object(3303).version == "1.1"
