"""Air for Sigfox in the emulator: the device API, downlink queueing and the modem's uplink path."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from cloud_openapi import Cloud, running_cloud
from hypothesis import given
from hypothesis import strategies as st

from agent.simulator.cloud import CloudStore, RuleViolation, UnknownItem
from agent.telemetry.sigfox_frame import SigfoxFrameError, unpack_frame
from agent.telemetry.sigfox_spec import parse_parser_format


@pytest.fixture
async def cloud() -> AsyncIterator[Cloud]:
    async with running_cloud() as running:
        yield running


async def register(
    cloud: Cloud, device_id: str, pac: str = "0123456789ABCDEF", **tags: str
) -> dict[str, object]:
    answer = await cloud.api.post(
        f"/v1/sigfox_devices/{device_id}/register", json={"registrationSecret": pac, "tags": tags}
    )
    assert answer.status == 200, answer.body
    return dict(answer.json())


async def test_register_get_and_list(cloud: Cloud) -> None:
    registered = await register(cloud, "002A3B4C", name="shed")
    assert registered["device_id"] == "002A3B4C"
    assert registered["status"] == "ready" and registered["tags"] == {"name": "shed"}
    assert registered["operatorId"] == cloud.config.operator_id
    assert "pac" not in json.dumps(registered).lower()
    got = await cloud.api.get("/v1/sigfox_devices/002A3B4C")
    assert got.json()["device_id"] == "002A3B4C"
    assert [d["device_id"] for d in (await cloud.api.get("/v1/sigfox_devices")).json()] == ["002A3B4C"]


async def test_unknown_device_is_404(cloud: Cloud) -> None:
    for answer in (
        await cloud.api.get("/v1/sigfox_devices/FFFFFFFF"),
        await cloud.api.post("/v1/sigfox_devices/FFFFFFFF/data", json={"data": "0011223344556677"}),
        await cloud.api.put("/v1/sigfox_devices/FFFFFFFF/tags", json=[{"tagName": "a", "tagValue": "b"}]),
        await cloud.api.post("/v1/sigfox_devices/FFFFFFFF/enable_termination"),
        await cloud.api.post("/v1/sigfox_devices/FFFFFFFF/terminate"),
    ):
        assert answer.status == 404 and answer.error_code == "COM0002"


@pytest.mark.parametrize("body", [{}, {"registrationSecret": ""}, {"registrationSecret": 12}])
async def test_register_without_a_pac_is_400(cloud: Cloud, body: dict[str, object]) -> None:
    answer = await cloud.api.post("/v1/sigfox_devices/002A3B4C/register", json=body)
    assert answer.status == 400


async def test_register_checks_the_pac_of_a_provisioned_device(cloud: Cloud) -> None:
    cloud.store.provision_sigfox_device("00AA0001", "PAC0000000000001")
    assert (await cloud.api.get("/v1/sigfox_devices/00AA0001")).json()["status"] == "instock"
    wrong = await cloud.api.post("/v1/sigfox_devices/00AA0001/register", json={"registrationSecret": "nope"})
    assert wrong.status == 400 and "PAC" in wrong.json()["message"]
    await register(cloud, "00AA0001", "PAC0000000000001")
    again = await cloud.api.post(
        "/v1/sigfox_devices/00AA0001/register", json={"registrationSecret": "PAC0000000000001"}
    )
    assert again.status == 400 and "already registered" in again.json()["message"]


async def test_list_pages_by_device_id(cloud: Cloud) -> None:
    ids = [f"0000000{i}" for i in range(5)]
    for device_id in reversed(ids):
        await register(cloud, device_id)
    page = await cloud.api.get("/v1/sigfox_devices?limit=2")
    seen = [d["device_id"] for d in page.json()]
    while "x-soracom-next-key" in page.headers:
        page = await cloud.api.get(
            f"/v1/sigfox_devices?limit=2&last_evaluated_key={page.headers['x-soracom-next-key']}"
        )
        seen += [d["device_id"] for d in page.json()]
    assert seen == ids


async def test_list_filters_by_tag(cloud: Cloud) -> None:
    await register(cloud, "00000001", site="tokyo-1")
    await register(cloud, "00000002", site="tokyo-2")
    await register(cloud, "00000003", site="osaka")
    exact = await cloud.api.get("/v1/sigfox_devices?tag_name=site&tag_value=tokyo-1")
    assert [d["device_id"] for d in exact.json()] == ["00000001"]
    prefix = await cloud.api.get(
        "/v1/sigfox_devices?tag_name=site&tag_value=tokyo&tag_value_match_mode=prefix"
    )
    assert [d["device_id"] for d in prefix.json()] == ["00000001", "00000002"]
    assert (await cloud.api.get("/v1/sigfox_devices?tag_name=site")).status == 400
    assert (
        await cloud.api.get("/v1/sigfox_devices?tag_name=site&tag_value=x&tag_value_match_mode=fuzzy")
    ).status == 400


async def test_tags_put_and_delete(cloud: Cloud) -> None:
    await register(cloud, "00000001", a="1")
    updated = await cloud.api.put(
        "/v1/sigfox_devices/00000001/tags",
        json=[{"tagName": "a", "tagValue": "2"}, {"tagName": "b", "tagValue": "3"}],
    )
    assert updated.json()["tags"] == {"a": "2", "b": "3"}
    deleted = await cloud.api.delete("/v1/sigfox_devices/00000001/tags/a")
    assert deleted.status == 204 and deleted.body == b""
    assert (await cloud.api.get("/v1/sigfox_devices/00000001")).json()["tags"] == {"b": "3"}
    assert (await cloud.api.delete("/v1/sigfox_devices/00000001/tags/a")).status == 404
    bad = await cloud.api.put("/v1/sigfox_devices/00000001/tags", json=[{"tagName": "x"}])
    assert bad.status == 400 and "tagValue" in bad.json()["message"]
    assert (await cloud.api.put("/v1/sigfox_devices/00000001/tags", json={"a": "b"})).status == 400


async def test_groups_set_and_unset(cloud: Cloud) -> None:
    await register(cloud, "00000001")
    grouped = await cloud.api.post("/v1/sigfox_devices/00000001/set_group", json={"groupId": "g-1"})
    assert grouped.json()["groupId"] == "g-1"
    ungrouped = await cloud.api.post("/v1/sigfox_devices/00000001/unset_group")
    assert "groupId" not in ungrouped.json()


async def test_terminate_needs_termination_enabled(cloud: Cloud) -> None:
    await register(cloud, "00000001")
    refused = await cloud.api.post("/v1/sigfox_devices/00000001/terminate")
    assert refused.status == 400 and "enable" in refused.json()["message"]
    assert (await cloud.api.post("/v1/sigfox_devices/00000001/enable_termination")).json()[
        "terminationEnabled"
    ]
    assert not (await cloud.api.post("/v1/sigfox_devices/00000001/disable_termination")).json()[
        "terminationEnabled"
    ]
    await cloud.api.post("/v1/sigfox_devices/00000001/enable_termination")
    terminated = await cloud.api.post("/v1/sigfox_devices/00000001/terminate")
    assert terminated.status == 200 and terminated.json()["status"] == "terminated"
    assert (await cloud.api.get("/v1/sigfox_devices/00000001")).json()["status"] == "terminated"
    assert cloud.store.sigfox_uplink("00000001", b"\x01", want_downlink=False) is None
    assert (await cloud.api.get("/v1/sigfox_devices/00000001/data")).json() == []


async def test_terminate_with_delete_immediately_removes_the_device(cloud: Cloud) -> None:
    await register(cloud, "00000001")
    await cloud.api.post("/v1/sigfox_devices/00000001/enable_termination")
    answer = await cloud.api.post("/v1/sigfox_devices/00000001/terminate?delete_immediately=true")
    assert answer.json()["status"] == "terminated"
    assert (await cloud.api.get("/v1/sigfox_devices/00000001")).status == 404


async def test_downlink_waits_for_an_uplink_that_asks_and_is_delivered_once(cloud: Cloud) -> None:
    await register(cloud, "00000001")
    queued = await cloud.api.post("/v1/sigfox_devices/00000001/data", json={"data": "0123456789abcdef"})
    assert queued.status == 202 and queued.body == b""
    assert cloud.store.sigfox_uplink("00000001", b"\x10", want_downlink=False) is None
    assert cloud.store.sigfox_uplink("00000001", b"\x11", want_downlink=True) == bytes.fromhex(
        "0123456789abcdef"
    )
    assert cloud.store.sigfox_uplink("00000001", b"\x12", want_downlink=True) is None


async def test_a_newer_downlink_replaces_a_waiting_one(cloud: Cloud) -> None:
    await register(cloud, "00000001")
    await cloud.api.post("/v1/sigfox_devices/00000001/data", json={"data": "1111111111111111"})
    await cloud.api.post("/v1/sigfox_devices/00000001/data", json={"data": "2222222222222222"})
    assert cloud.store.sigfox_uplink("00000001", b"", want_downlink=True) == bytes.fromhex("2222222222222222")


@pytest.mark.parametrize(
    "body",
    [{"data": "0123"}, {"data": "0123456789abcdef00"}, {"data": "0123456789abcdeg"}, {"data": 12}, {}, ["x"]],
)
async def test_downlink_must_be_exactly_16_hex_characters(cloud: Cloud, body: object) -> None:
    await register(cloud, "00000001")
    answer = await cloud.api.post("/v1/sigfox_devices/00000001/data", json=body)
    assert answer.status == 400
    assert cloud.store.sigfox_uplink("00000001", b"", want_downlink=True) is None


async def test_uplinks_are_harvest_entries_and_update_last_seen(cloud: Cloud) -> None:
    await register(cloud, "00000001")
    cloud.store.sigfox_uplink("00000001", bytes.fromhex("0a0b0c"), want_downlink=False, rssi=-110, snr=12)
    cloud.store.sigfox_uplink("00000001", bytes.fromhex("0d"), want_downlink=False)
    entries = (await cloud.api.get("/v1/sigfox_devices/00000001/data?sort=asc")).json()
    messages = [json.loads(e["content"]) for e in entries]
    assert [(m["data"], m["seqNumber"], m["device"]) for m in messages] == [
        ("0a0b0c", 1, "00000001"),
        ("0d", 2, "00000001"),
    ]
    assert all(e["resourceType"] == "SigfoxDevice" for e in entries)
    same = (await cloud.api.get("/v1/data/SigfoxDevice/00000001?sort=asc")).json()
    assert same == entries
    device = (await cloud.api.get("/v1/sigfox_devices/00000001")).json()
    assert device["status"] == "active"
    assert device["lastSeen"]["rssi"] == -120 and device["lastSeen"]["time"].endswith("Z")


async def test_uplink_rules_for_size_and_unknown_devices() -> None:
    store = CloudStore(sigfox_auto_register=False)
    with pytest.raises(UnknownItem):
        store.sigfox_uplink("00000009", b"\x01", want_downlink=False)
    store.register_sigfox_device("00000009", "PAC")
    with pytest.raises(RuleViolation):
        store.sigfox_uplink("00000009", bytes(13), want_downlink=False)
    assert store.sigfox_uplink("00000009", bytes(12), want_downlink=False) is None


async def test_uplink_from_an_unknown_device_registers_it_by_default(cloud: Cloud) -> None:
    cloud.store.sigfox_uplink("000000AB", b"\x01", want_downlink=False)
    assert (await cloud.api.get("/v1/sigfox_devices/000000AB")).json()["status"] == "active"


PARSER = parse_parser_format("temp:0:int:16:/100 hum:2:uint:8 presses:3:uint:16")


async def test_uplinks_carry_the_fields_the_binary_parser_decodes(cloud: Cloud) -> None:
    await register(cloud, "00000001")
    cloud.store.sigfox_uplink("00000001", bytes.fromhex("f830280007"), want_downlink=False, binary_parser=PARSER)
    cloud.store.sigfox_uplink("00000001", bytes.fromhex("0830"), want_downlink=False, binary_parser=PARSER)
    entries = (await cloud.api.get("/v1/sigfox_devices/00000001/data?sort=asc")).json()
    decoded, short = (json.loads(e["content"]) for e in entries)
    assert decoded["data"] == "f830280007" and decoded["seqNumber"] == 1
    assert (decoded["temp"], decoded["hum"], decoded["presses"]) == (-20.0, 40, 7)
    assert short["data"] == "0830" and "temp" not in short
    assert "byte" in short["binaryParserError"], "a frame too short for the format says so, undecoded"


@given(frame=st.binary(max_size=12))
def test_any_frame_is_stored_decoded_or_with_the_reason(frame: bytes) -> None:
    store = CloudStore()
    store.sigfox_uplink("00000001", frame, want_downlink=False, binary_parser=PARSER)
    entries, _ = store.data_entries("SigfoxDevice", "00000001")
    message = json.loads(entries[0].content)
    assert message["data"] == frame.hex() and message["device"] == "00000001"
    try:
        expected = unpack_frame(PARSER, frame)
    except SigfoxFrameError as exc:
        assert message["binaryParserError"] == str(exc)
    else:
        assert {name: message[name] for name in expected} == expected
