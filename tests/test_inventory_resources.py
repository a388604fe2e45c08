"""The Inventory API's LwM2M operations end to end: HTTP in, LwM2M over loopback UDP to a real agent.

Every answer is checked against the Soracom spec (``test_inventory_support``). The agent serves the test
object 32769 (one resource of every type) besides 0, 1 and 3.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support import ENDPOINT
from test_inventory_support import InventoryEnv, inventory_env, wait_until

from agent.client.agent import LwM2MClient
from agent.core.errors import BadRequest
from agent.core.path import Path
from agent.tree import StoredValue
from agent.tree.binding import ResourceContent


@pytest.fixture
async def env() -> AsyncIterator[InventoryEnv]:
    async with inventory_env() as running:
        yield running


@pytest.fixture
async def agent(env: InventoryEnv) -> LwM2MClient:
    return await env.start_agent(ENDPOINT)


def binding(agent: LwM2MClient, path: str) -> StoredValue:
    p = Path.parse(path)
    found = agent.tree.instance(p).resources[p[2]]
    assert isinstance(found, StoredValue)
    return found


def device_url(env: InventoryEnv, suffix: str = "") -> str:
    return f"/v1/devices/{env.device_id(ENDPOINT)}{suffix}"


async def test_the_whole_flow_from_listing_to_unobserve(env: InventoryEnv, agent: LwM2MClient) -> None:
    listed = await env.api.get("/v1/devices")
    assert listed.status == 200
    [device] = [d for d in listed.json() if d.get("endpoint") == ENDPOINT]
    assert device["online"] is True
    base = f"/v1/devices/{device['device_id']}"

    instance = await env.api.get(base + "/3/0")
    assert instance.status == 200
    assert instance.json()["id"] == 0
    assert instance.json()["resources"]["0"] == {"id": 0, "observed": False, "value": "ACME Corp"}

    written = await env.api.put(base + "/32769/0/0", json={"value": "written over HTTP"})
    assert written.status == 202 and written.body == b""
    assert binding(agent, "/32769/0/0").value == "written over HTTP"

    executed = await env.api.post(base + "/32769/0/12/execute", json={"value": "0='now'"})
    assert executed.status == 202
    assert (await env.api.get(base + "/32769/0/13")).json()["value"] == "0='now'"

    observed = await env.api.post(base + "/32769/0/1/observe")
    assert observed.status == 202
    assert (await env.api.get(base + "/32769/0/1")).json()["observed"] is True
    await wait_until(lambda: len(env.store.data_entries("Device", device["device_id"])[0]) == 1)
    binding(agent, "/32769/0/1").set(7)
    await wait_until(lambda: len(env.store.data_entries("Device", device["device_id"])[0]) == 2)
    entries = await env.data_entries(device["device_id"])
    assert [json.loads(e["content"])["resources"]["1"] for e in entries] == [
        {"name": "Integer", "value": -42},
        {"name": "Integer", "value": 7},
    ]
    assert all(e["contentType"] == "application/json" and e["resourceType"] == "Device" for e in entries)

    unobserved = await env.api.post(base + "/32769/0/1/unobserve")
    assert unobserved.status == 204
    binding(agent, "/32769/0/1").set(8)
    await asyncio.sleep(0.3)
    assert len(await env.data_entries(device["device_id"])) == 2, "no entry after unobserve"
    assert (await env.api.get(base + "/32769/0/1")).json() == {"id": 1, "observed": False, "value": 8}


async def test_notification_entry_has_the_shape_soracom_forwards(
    env: InventoryEnv, agent: LwM2MClient
) -> None:
    device_id = env.device_id(ENDPOINT)
    assert (await env.api.post(device_url(env, "/32769/0/observe"))).status == 202
    await wait_until(lambda: len(env.store.data_entries("Device", device_id)[0]) == 1)
    [entry] = await env.data_entries(device_id)
    content = json.loads(entry["content"])
    assert content["deviceId"] == device_id and content["path"] == "/32769/0"
    assert content["lastModifiedTime"] == entry["time"]
    assert content["resources"]["9"] == {"name": "Multi Integer", "values": {"0": 10, "1": 20, "5": 50}}
    assert content["resources"]["7"] == {"name": "Objlnk", "value": "3:0"}
    assert (await env.api.get(device_url(env, "/32769/0"))).json()["observed"] is True
    resources = await env.api.get("/v1/data/resources", params={"resource_type": "Device"})
    assert {"deviceId", "path", "resources"} <= set(resources.json()[0]["attributeNames"])
    assert (await env.api.post(device_url(env, "/32769/0/unobserve"))).status == 204


async def test_read_with_model_names_every_resource(env: InventoryEnv, agent: LwM2MClient) -> None:
    answer = await env.api.get(device_url(env, "/32769/0"), params={"model": "true"})
    assert answer.status == 200
    resources = answer.json()["resources"]
    assert resources["3"] == {
        "id": 3,
        "observed": False,
        "value": 21.5,
        "name": "Float",
        "operations": "RW",
        "type": "FLOAT",
        "multiple": False,
        "mandatory": False,
        "rangeEnumeration": "",
        "units": "",
        "description": "",
    }
    assert resources["2"]["type"] == "INTEGER", "Unsigned Integer shows as the API's INTEGER"
    assert resources["5"]["value"] == "AAH+/w==" and resources["5"]["type"] == "OPAQUE"
    assert resources["6"]["value"] == "Nov 14, 2023 10:13:20 PM" and resources["6"]["type"] == "TIME"
    assert resources["4"]["value"] is True
    assert resources["9"]["values"] == {"0": 10, "1": 20, "5": 50} and resources["9"]["multiple"] is True
    assert "11" not in resources, "a write-only resource is not read"
    single = await env.api.get(device_url(env, "/3/0/1"), params={"model": "true"})
    assert single.json()["name"] == "Model Number" and single.json()["value"] == "Sensor Hub X1"


@pytest.mark.parametrize(
    ("resource", "body", "expected"),
    [
        ("1", {"value": "-17"}, -17),
        ("2", {"value": 18446744073709551615}, 18446744073709551615),
        ("3", {"value": 2}, 2.0),
        ("4", {"value": False}, False),
        ("5", {"value": "3q2+7w=="}, b"\xde\xad\xbe\xef"),
        ("6", {"value": "Jan 1, 2024 12:00:00 AM"}, 1704067200),
        ("6", {"value": 1704067201}, 1704067201),
        ("7", {"value": "32769:0"}, (32769, 0)),
        ("8", {"value": "</3303/0>"}, "</3303/0>"),
        ("11", {"value": "write only"}, "write only"),
    ],
)
async def test_write_converts_json_to_the_model_type(
    env: InventoryEnv, agent: LwM2MClient, resource: str, body: dict[str, Any], expected: object
) -> None:
    answer = await env.api.put(device_url(env, f"/32769/0/{resource}"), json=body)
    assert answer.status == 202, answer.body
    assert binding(agent, f"/32769/0/{resource}").value == expected


async def test_write_of_a_multiple_resource_takes_values(env: InventoryEnv, agent: LwM2MClient) -> None:
    url = device_url(env, "/32769/0/9")
    assert (await env.api.put(url, json={"values": [1, 2, 3]})).status == 202
    assert (await env.api.get(url)).json()["values"] == {"0": 1, "1": 2, "2": 3}
    assert (await env.api.put(url, json={"values": {"4": 40}})).status == 202
    assert (await env.api.get(url)).json()["values"] == {"4": 40}
    refused = await env.api.put(url, json={"value": 1})
    assert refused.status == 400 and "values" in refused.json()["message"]


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/32769/0/1", {"value": "forty"}, 400, "value must be an integer"),
        ("/32769/0/2", {"value": -1}, 400, "Unsigned Integer"),
        ("/32769/0/4", {"value": "maybe"}, 400, "value must be a boolean"),
        ("/32769/0/5", {"value": "not base64!"}, 400, "base64"),
        ("/32769/0/0", {"values": ["a"]}, 400, "single resource"),
        ("/32769/0/0", {}, 400, "field value is required"),
        ("/32769/0/12", {"value": "x"}, 400, "execute"),
        ("/32769/0/10", {"value": 1}, 400, "does not allow write"),
        ("/32769/0/99", {"value": 1}, 404, "has no resource 99"),
        ("/40000/0/0", {"value": 1}, 400, "upload one with POST /v1/device_object_models"),
        ("/32769/7/0", {"value": "x"}, 404, "4.04"),
        ("/32769/x/0", {"value": "x"}, 400, "instance must be an integer"),
    ],
)
async def test_bad_writes_are_refused_with_the_reason(
    env: InventoryEnv, agent: LwM2MClient, path: str, body: dict[str, Any], status: int, words: str
) -> None:
    answer = await env.api.put(device_url(env, path), json=body)
    assert answer.status == status, answer.body
    assert words in answer.json()["message"]


async def test_a_device_error_on_write_is_500_with_its_message(env: InventoryEnv, agent: LwM2MClient) -> None:
    class Locked(StoredValue):
        async def write(self, value: ResourceContent) -> None:
            raise BadRequest("the valve is locked")

    agent.tree.instance(Path(32769, 0)).resources[0] = Locked("x")
    answer = await env.api.put(device_url(env, "/32769/0/0"), json={"value": "open"})
    assert answer.status == 500, answer.body
    message = answer.json()["message"]
    assert (
        message == f"device {env.device_id(ENDPOINT)} answered 4.00 to write /32769/0/0: the valve is locked"
    )


async def test_read_errors_map_to_the_documented_statuses(env: InventoryEnv, agent: LwM2MClient) -> None:
    assert (await env.api.get(device_url(env, "/32769/3"))).status == 404
    assert (await env.api.get(device_url(env, "/32769/0/77"))).status == 404
    write_only = await env.api.get(device_url(env, "/32769/0/11"))
    assert write_only.status == 400 and "does not allow read" in write_only.json()["message"]
    executable = await env.api.post(device_url(env, "/32769/0/1/execute"))
    assert executable.status == 400 and "does not allow execute" in executable.json()["message"]
    bad_arguments = await env.api.post(device_url(env, "/32769/0/12/execute"), json={"value": "reboot=now"})
    assert bad_arguments.status == 400 and "answered 4.00" in bad_arguments.json()["message"]
    not_observable = await env.api.post(device_url(env, "/32769/0/11/observe"))
    assert not_observable.status == 400


async def test_unknown_device_is_404_for_every_operation(env: InventoryEnv) -> None:
    base = "/v1/devices/d-00000000000000000000"
    calls = [
        env.api.get(base + "/3/0"),
        env.api.get(base + "/3/0/0"),
        env.api.put(base + "/3/0/0", json={"value": "x"}),
        env.api.post(base + "/3/0/4/execute"),
        env.api.post(base + "/3/0/0/observe"),
        env.api.post(base + "/3/0/0/unobserve"),
        env.api.post(base + "/3/0/observe"),
        env.api.post(base + "/3/0/unobserve"),
    ]
    for answer in await asyncio.gather(*calls):
        assert answer.status == 404 and answer.json()["code"] == "COM0002"


async def test_offline_device_is_400_for_every_operation(env: InventoryEnv) -> None:
    created = await env.api.post("/v1/devices", json={"endpoint": "never-registered"})
    base = f"/v1/devices/{created.json()['device_id']}"
    calls = [
        env.api.get(base + "/3/0"),
        env.api.get(base + "/3/0/0"),
        env.api.put(base + "/3/0/14", json={"value": "+09:00"}),
        env.api.post(base + "/3/0/4/execute"),
        env.api.post(base + "/3/0/0/observe"),
        env.api.post(base + "/3/0/observe"),
    ]
    for answer in await asyncio.gather(*calls):
        assert answer.status == 400, answer.body
        assert answer.json()["code"] == "INV0001" and "offline" in answer.json()["message"]


async def test_a_device_that_stopped_answering_is_400_not_a_hang(env: InventoryEnv) -> None:
    await env.start_agent(ENDPOINT)
    await env.stop_agent(ENDPOINT, deregister=False)  # still registered, but gone
    answer = await env.api.get(device_url(env, "/3/0/0"))
    assert answer.status == 400 and "did not answer" in answer.json()["message"]


async def test_observations_end_when_the_device_deregisters(env: InventoryEnv) -> None:
    await env.start_agent(ENDPOINT)
    device_id = env.device_id(ENDPOINT)
    assert (await env.api.post(device_url(env, "/32769/0/1/observe"))).status == 202
    await wait_until(lambda: len(env.store.data_entries("Device", device_id)[0]) == 1)
    await env.stop_agent(ENDPOINT)
    assert not env.inventory.observations.is_observed(device_id, Path(32769, 0, 1))
    agent = await env.start_agent(ENDPOINT)
    assert env.device_id(ENDPOINT) == device_id, "the same endpoint is the same device"
    binding(agent, "/32769/0/1").set(99)
    await asyncio.sleep(0.3)
    assert len(await env.data_entries(device_id)) == 1
    assert (await env.api.get(device_url(env, "/32769/0/1"))).json()["observed"] is False


async def test_observe_twice_keeps_one_observation(env: InventoryEnv, agent: LwM2MClient) -> None:
    device_id = env.device_id(ENDPOINT)
    url = device_url(env, "/32769/0/1/observe")
    assert [a.status for a in await asyncio.gather(env.api.post(url), env.api.post(url))] == [202, 202]
    binding(agent, "/32769/0/1").set(3)
    await wait_until(
        lambda: any('"value": 3' in e.content for e in env.store.data_entries("Device", device_id)[0])
    )
    await asyncio.sleep(0.2)
    changes = [
        e for e in env.store.data_entries("Device", device_id, limit=100)[0] if '"value": 3' in e.content
    ]
    assert len(changes) == 1, "one notification per change, not one per observe call"


async def test_bad_path_parameters_are_400(env: InventoryEnv, agent: LwM2MClient) -> None:
    for path in ("/abc/0", "/3/0/70000", "/-1/0/0"):
        answer = await env.api.get(device_url(env, path))
        assert answer.status == 400, path
        assert "must be an integer 0..65535" in answer.json()["message"]
