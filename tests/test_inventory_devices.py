"""Inventory devices over real HTTP: create, list (tags, paging), tags, groups, delete; and the mapping of
LwM2M registrations from real agents over loopback UDP to device records."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from pathlib import Path as FsPath

import pytest
from support import ENDPOINT
from test_inventory_support import InventoryEnv, inventory_env, wait_until

from agent.simulator.cloud import CloudStore
from agent.simulator.cloud.inventory_devices import new_device_id

DEVICE_ID = re.compile(r"d-[a-z0-9]{20}")


@pytest.fixture
async def env() -> AsyncIterator[InventoryEnv]:
    async with inventory_env() as running:
        yield running


async def test_create_issues_an_id_and_a_secret_that_publishes(env: InventoryEnv) -> None:
    created = await env.api.post("/v1/devices", json={"tags": {"room": "lab"}})
    assert created.status == 201
    device = created.json()
    assert DEVICE_ID.fullmatch(device["device_id"])
    assert len(base64.b64decode(device["secretKey"], validate=True)) == 16
    assert device["online"] is False and device["tags"] == {"room": "lab"}
    assert device["operatorId"] == env.config.operator_id
    fetched = (await env.api.get(f"/v1/devices/{device['device_id']}")).json()
    assert "secretKey" not in fetched, "the secret is shown once, at creation"
    published = await env.api.session.post(
        f"{env.api.base_url}/v1/devices/{device['device_id']}/publish",
        params={"device_secret": device["secretKey"]},
        json={"temperature": 21},
    )
    assert published.status == 201
    [entry] = await env.data_entries(device["device_id"])
    assert entry["content"] == '{"temperature": 21}'


async def test_create_refuses_bad_fields_and_a_taken_endpoint(env: InventoryEnv) -> None:
    assert (await env.api.post("/v1/devices", json={"endpoint": "ep-1"})).status == 201
    taken = await env.api.post("/v1/devices", json={"endpoint": "ep-1"})
    assert taken.status == 400 and "ep-1" in taken.json()["message"]
    for body, field in (
        ({"endpoint": 5}, "endpoint"),
        ({"tags": ["a"]}, "tags"),
        ({"groupId": 1}, "groupId"),
    ):
        answer = await env.api.post("/v1/devices", json=body)
        assert answer.status == 400 and field in answer.json()["message"]
    assert (await env.api.post("/v1/devices", data=b"{not json")).status == 400
    deep = await env.api.post("/v1/devices", data=b"[" * 100_000 + b"]" * 100_000)
    assert deep.status == 400 and "nested too deeply" in deep.json()["message"]


async def test_get_and_delete(env: InventoryEnv) -> None:
    device_id = (await env.api.post("/v1/devices")).json()["device_id"]
    assert (await env.api.get(f"/v1/devices/{device_id}")).status == 200
    assert (await env.api.delete(f"/v1/devices/{device_id}")).status == 204
    assert (await env.api.get(f"/v1/devices/{device_id}")).status == 404
    assert (await env.api.delete(f"/v1/devices/{device_id}")).status == 404
    assert env.store.device_secret(device_id) is None


async def test_tags_and_tag_filters(env: InventoryEnv) -> None:
    ids = [(await env.api.post("/v1/devices")).json()["device_id"] for _ in range(3)]
    tagged = await env.api.put(
        f"/v1/devices/{ids[0]}/tags",
        json=[{"tagName": "site", "tagValue": "tokyo-1"}, {"tagName": "x", "tagValue": ""}],
    )
    assert tagged.status == 200 and tagged.json()["tags"] == {"site": "tokyo-1", "x": ""}
    await env.api.put(f"/v1/devices/{ids[1]}/tags", json=[{"tagName": "site", "tagValue": "tokyo-2"}])
    await env.api.put(f"/v1/devices/{ids[2]}/tags", json=[{"tagName": "site", "tagValue": "osaka"}])

    async def listed(**query: str) -> set[str]:
        answer = await env.api.get("/v1/devices", params=query)
        assert answer.status == 200
        return {device["device_id"] for device in answer.json()}

    assert await listed(tag_name="site", tag_value="tokyo-1") == {ids[0]}
    assert await listed(tag_name="site", tag_value="tokyo", tag_value_match_mode="prefix") == set(ids[:2])
    assert await listed(tag_name="site", tag_value="tokyo") == set()
    assert await listed() == set(ids)
    assert (await env.api.get("/v1/devices", params={"tag_name": "site"})).status == 400
    bad_mode = await env.api.get(
        "/v1/devices", params={"tag_name": "site", "tag_value": "a", "tag_value_match_mode": "regex"}
    )
    assert bad_mode.status == 400

    assert (await env.api.delete(f"/v1/devices/{ids[0]}/tags/site")).status == 204
    assert (await env.api.get(f"/v1/devices/{ids[0]}")).json()["tags"] == {"x": ""}
    assert (await env.api.delete(f"/v1/devices/{ids[0]}/tags/site")).status == 404
    bad = await env.api.put(f"/v1/devices/{ids[0]}/tags", json=[{"tagName": "a"}])
    assert bad.status == 400 and "tagValue" in bad.json()["message"]
    assert (await env.api.put("/v1/devices/d-00000000000000000000/tags", json=[])).status == 404


async def test_paging_visits_every_device_once(env: InventoryEnv) -> None:
    ids = {(await env.api.post("/v1/devices")).json()["device_id"] for _ in range(5)}
    seen: list[str] = []
    query = {"limit": "2"}
    pages = 0
    while True:
        answer = await env.api.get("/v1/devices", params=query)
        page = [device["device_id"] for device in answer.json()]
        assert len(page) <= 2
        seen += page
        pages += 1
        next_key = answer.headers.get("x-soracom-next-key")
        if next_key is None:
            break
        assert next_key == page[-1] and 'rel="next"' in answer.headers["link"]
        query = {"limit": "2", "last_evaluated_key": next_key}
    assert pages == 3 and seen == sorted(ids)
    assert (await env.api.get("/v1/devices", params={"limit": "two"})).status == 400


async def test_set_and_unset_group(env: InventoryEnv) -> None:
    device_id = (await env.api.post("/v1/devices")).json()["device_id"]
    grouped = await env.api.post(f"/v1/devices/{device_id}/set_group", json={"groupId": "g-1"})
    assert grouped.status == 200 and grouped.json()["groupId"] == "g-1"
    assert (await env.api.post(f"/v1/devices/{device_id}/set_group", json={})).status == 400
    ungrouped = await env.api.post(f"/v1/devices/{device_id}/unset_group")
    assert ungrouped.status == 200 and "groupId" not in ungrouped.json()
    assert (await env.api.post("/v1/devices/d-00000000000000000000/unset_group")).status == 404


async def test_a_registering_agent_becomes_an_online_device_with_its_info(env: InventoryEnv) -> None:
    await env.start_agent(ENDPOINT)
    device = await env.device_with_info(ENDPOINT)
    assert DEVICE_ID.fullmatch(device["device_id"])
    assert device["endpoint"] == ENDPOINT and device["online"] is True
    assert device["ipAddress"] == "127.0.0.1"
    assert device["registrationLifeTime"] == 60
    assert device["registrationId"] == env.server.registration(ENDPOINT).location
    assert device["manufacturer"] == "ACME Corp" and device["modelNumber"] == "Sensor Hub X1"
    assert device["serialNumber"] == "SN-0001" and device["firmwareVersion"] == "1.4.2"
    assert set(device["objects"]) == {"1", "3", "32769"}
    assert device["objects"]["3"]["0"]["resources"]["0"]["value"] == "ACME Corp"
    with_model = (await env.api.get(f"/v1/devices/{device['device_id']}", params={"model": "true"})).json()
    assert with_model["objects"]["3"]["0"]["resources"]["1"]["name"] == "Model Number"

    await env.stop_agent(ENDPOINT)
    offline = (await env.api.get(f"/v1/devices/{device['device_id']}")).json()
    assert offline["online"] is False and offline["manufacturer"] == "ACME Corp"


async def test_a_registration_update_refreshes_the_registration_time(env: InventoryEnv) -> None:
    agent = await env.start_agent(ENDPOINT)
    before = await env.device_with_info(ENDPOINT)
    updates = env.server.registration(ENDPOINT).updates
    await asyncio.sleep(0.01)
    assert agent.engine is not None
    agent.engine.trigger_update()
    await env.server.wait_for(lambda: env.server.registration(ENDPOINT).updates > updates)
    after = (await env.api.get(f"/v1/devices/{before['device_id']}")).json()
    assert after["lastRegistrationUpdate"] > before["lastRegistrationUpdate"]
    assert after["lastModifiedTime"] == before["lastModifiedTime"]
    assert after["registrationId"] == before["registrationId"] and after["online"] is True


async def test_a_registration_attaches_to_the_device_of_its_endpoint(env: InventoryEnv) -> None:
    by_endpoint = (await env.api.post("/v1/devices", json={"endpoint": "gateway-7"})).json()["device_id"]
    by_id = (await env.api.post("/v1/devices")).json()["device_id"]
    await env.start_agent("gateway-7")
    await env.start_agent(by_id)
    listed = (await env.api.get("/v1/devices")).json()
    assert len(listed) == 2, "no new device for a known endpoint or a device id"
    online = {device["device_id"]: device for device in listed}
    assert online[by_endpoint]["online"] and online[by_endpoint]["endpoint"] == "gateway-7"
    assert online[by_id]["online"] and online[by_id]["endpoint"] == by_id


async def test_provision_device_is_stable_per_endpoint(env: InventoryEnv) -> None:
    device_id, key = await env.inventory.provision_device("bootstrapped-1")
    assert DEVICE_ID.fullmatch(device_id) and len(key) == 16
    assert await env.inventory.provision_device("bootstrapped-1") == (device_id, key)
    assert base64.b64decode(env.store.device_secret(device_id) or "") == key
    other_id, other_key = await env.inventory.provision_device("bootstrapped-2")
    assert other_id != device_id and other_key != key
    await env.start_agent("bootstrapped-1")
    device = (await env.api.get(f"/v1/devices/{device_id}")).json()
    assert device["online"] is True and device["endpoint"] == "bootstrapped-1"


async def test_devices_survive_a_restart_with_a_sqlite_store(tmp_path: FsPath) -> None:
    database = tmp_path / "cloud.sqlite"
    store = CloudStore.open(database)
    async with inventory_env(store=store) as env:
        await env.start_agent(ENDPOINT)
        device = await env.device_with_info(ENDPOINT)
        await env.api.put(f"/v1/devices/{device['device_id']}/tags", json=[{"tagName": "a", "tagValue": "b"}])
    store.close()
    store = CloudStore.open(database)
    try:
        async with inventory_env(store=store) as env:
            again = (await env.api.get(f"/v1/devices/{device['device_id']}")).json()
            assert again["tags"] == {"a": "b"} and again["manufacturer"] == "ACME Corp"
            assert again["online"] is False
            await env.start_agent(ENDPOINT)
            assert env.device_id(ENDPOINT) == device["device_id"]
    finally:
        store.close()


async def test_deleting_an_online_device_drops_its_registration(env: InventoryEnv) -> None:
    await env.start_agent(ENDPOINT)
    device_id = env.device_id(ENDPOINT)
    assert (await env.api.delete(f"/v1/devices/{device_id}")).status == 204
    assert not env.server.is_registered(ENDPOINT)
    assert env.inventory.devices.for_endpoint(ENDPOINT) is None
    engine = env.agents[ENDPOINT].engine
    assert engine is not None
    engine.trigger_update()  # its Update now gets 4.04, so it registers again: an unknown endpoint
    await wait_until(lambda: env.inventory.devices.for_endpoint(ENDPOINT) is not None)
    assert env.device_id(ENDPOINT) != device_id


def test_device_ids_look_like_the_consoles() -> None:
    ids = {new_device_id() for _ in range(200)}
    assert len(ids) == 200 and all(DEVICE_ID.fullmatch(device_id) for device_id in ids)
