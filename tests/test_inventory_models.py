"""Device object models over real HTTP: upload (JSON and DDF XML), the service's limits, update, scope,
delete, paging, persistence, and what an upload changes for reads of a real agent's custom object."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path as FsPath
from typing import Any

import pytest
from support import ENDPOINT, TEST_OBJECT_FILE
from test_inventory_support import InventoryEnv, inventory_env

from agent.models import dump_ddf, load_json, shipped_models
from agent.simulator.cloud import CloudStore
from agent.simulator.cloud.inventory_settings import InventorySettings

MODELS = "/v1/device_object_models"


def custom_model(object_id: int, resources: int = 2, name: str = "Custom") -> dict[str, Any]:
    return {
        "objectId": object_id,
        "name": name,
        "resources": [
            {"id": rid, "name": f"Resource {rid}", "operations": "RW", "type": "INTEGER"}
            for rid in range(resources)
        ],
    }


def as_xml(model: dict[str, Any]) -> bytes:
    return dump_ddf(load_json(model).models[0])


@pytest.fixture
async def env() -> AsyncIterator[InventoryEnv]:
    """The server knows only the shipped standard models: 32769 must be uploaded."""
    async with inventory_env(models=shipped_models()) as running:
        yield running


async def test_uploading_the_model_lets_reads_of_the_custom_object_decode(env: InventoryEnv) -> None:
    await env.start_agent(ENDPOINT)
    instance = f"/v1/devices/{env.device_id(ENDPOINT)}/32769/0"
    before = await env.api.get(instance)
    assert before.status == 400 and "POST /v1/device_object_models" in before.json()["message"]

    uploaded = await env.api.post(
        MODELS, data=TEST_OBJECT_FILE.read_bytes(), headers={"Content-Type": "application/json"}
    )
    assert uploaded.status == 200, uploaded.body
    model = uploaded.json()
    assert (
        model["objectId"] == "32769" and model["objectName"] == "Test All Types" and model["format"] == "json"
    )
    assert model["operatorId"] == env.config.operator_id

    after = await env.api.get(instance, params={"model": "true"})
    assert after.status == 200
    assert (
        after.json()["resources"]["1"]["name"] == "Integer" and after.json()["resources"]["1"]["value"] == -42
    )
    assert (await env.api.put(instance + "/1", json={"value": 5})).status == 202


async def test_xml_models_upload_and_list_with_paging(env: InventoryEnv) -> None:
    for object_id in (40002, 40000, 40001):
        answer = await env.api.post(
            MODELS, data=as_xml(custom_model(object_id)), headers={"Content-Type": "application/xml"}
        )
        assert answer.status == 200 and answer.json()["format"] == "xml"
    first = await env.api.get(MODELS, params={"limit": "2"})
    assert [m["objectId"] for m in first.json()] == ["40000", "40001"]
    assert first.headers["x-soracom-next-key"] == "40001"
    rest = await env.api.get(MODELS, params={"limit": "2", "last_evaluated_key": "40001"})
    assert [m["objectId"] for m in rest.json()] == ["40002"] and "x-soracom-next-key" not in rest.headers
    assert len((await env.api.get(MODELS)).json()) == 3
    assert (await env.api.get(f"{MODELS}/40001")).json()["objectName"] == "Custom"


async def test_the_service_limits_hold(env: InventoryEnv) -> None:
    for object_id in range(40000, 40016):
        assert (await env.api.post(MODELS, json=custom_model(object_id))).status == 200
    seventeenth = await env.api.post(MODELS, json=custom_model(40016))
    assert seventeenth.status == 400 and "16 custom objects" in seventeenth.json()["message"]
    await env.api.delete(f"{MODELS}/40000")
    assert (await env.api.post(MODELS, json=custom_model(40016))).status == 200

    too_big = await env.api.post(MODELS, json=custom_model(40100, resources=21))
    assert too_big.status == 400
    assert too_big.json()["message"] == (
        "request body: Object 40100 / Resources: 21 resources, more than the 20 the service allows "
        "per object; fix: split the object"
    )


async def test_the_limits_are_settings() -> None:
    settings = InventorySettings(max_custom_objects=1, max_resources_per_object=3)
    async with inventory_env(models=shipped_models(), settings=settings) as env:
        assert (await env.api.post(MODELS, json=custom_model(40000, resources=3))).status == 200
        assert (await env.api.post(MODELS, json=custom_model(40001))).status == 400
        assert (await env.api.post(f"{MODELS}/40000", json=custom_model(40000, resources=4))).status == 400


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (custom_model(3303), "application/json", "Object 3303 / ObjectID: object 3303 is a standard object"),
        (custom_model(5), "application/json", "standard object"),
        (
            {"objectId": 40000, "name": "X", "resources": [{"id": 1, "name": "R", "operations": "R"}]},
            "application/json",
            "Object 40000 / Resource 1 / type: field 'type' is missing",
        ),
        (
            {
                "objectId": 40000,
                "name": "X",
                "resources": [{"id": 1, "name": "R", "operations": "RX", "type": "STRING"}],
            },
            "application/json",
            "Resource 1 / operations",
        ),
        ([custom_model(40000), custom_model(40001)], "application/json", "defines 2 objects (40000, 40001)"),
        ("<LWM2M><Object>", "application/xml", "request body:"),
        ("{", "application/json", "not valid JSON"),
    ],
)
async def test_bad_models_are_refused_naming_the_field(
    env: InventoryEnv, body: Any, content_type: str, words: str
) -> None:
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    answer = await env.api.post(MODELS, data=data, headers={"Content-Type": content_type})
    assert answer.status == 400, answer.body
    assert words in answer.json()["message"]
    assert (await env.api.get(MODELS)).json() == []


async def test_update_scope_and_delete(env: InventoryEnv) -> None:
    created = (await env.api.post(MODELS, json=custom_model(40000))).json()
    updated = await env.api.post(
        f"{MODELS}/40000",
        data=as_xml(custom_model(40000, name="Renamed")),
        headers={"Content-Type": "application/xml"},
    )
    assert updated.status == 200
    assert updated.json()["objectName"] == "Renamed" and updated.json()["format"] == "xml"
    assert updated.json()["createdTime"] == created["createdTime"]
    other = await env.api.post(f"{MODELS}/40000", json=custom_model(40001))
    assert other.status == 400 and "ObjectID is 40001" in other.json()["message"]
    assert (await env.api.post(f"{MODELS}/49999", json=custom_model(49999))).status == 404

    scoped = await env.api.post(f"{MODELS}/40000/set_scope", json={"scope": "public"})
    assert scoped.status == 200 and scoped.json()["scope"] == "public"
    assert (await env.api.post(f"{MODELS}/40000/set_scope", json={"scope": ""})).status == 400
    assert (await env.api.post(f"{MODELS}/49999/set_scope", json={"scope": "x"})).status == 404

    assert (await env.api.delete(f"{MODELS}/40000")).status == 204
    assert (await env.api.get(f"{MODELS}/40000")).status == 404
    assert (await env.api.delete(f"{MODELS}/40000")).status == 404
    assert 40000 not in env.server.models


async def test_deleting_an_upload_restores_the_model_the_server_had() -> None:
    async with inventory_env() as env:  # the server's registry has its own model of 32769
        await env.start_agent(ENDPOINT)
        resource = f"/v1/devices/{env.device_id(ENDPOINT)}/32769/0/1"
        renamed = json.loads(TEST_OBJECT_FILE.read_text())
        renamed["resources"][1]["name"] = "Renamed Integer"
        assert (await env.api.post(MODELS, json=renamed)).status == 200
        assert (await env.api.get(resource, params={"model": "true"})).json()["name"] == "Renamed Integer"
        assert (await env.api.delete(f"{MODELS}/32769")).status == 204
        assert (await env.api.get(resource, params={"model": "true"})).json()["name"] == "Integer"


async def test_uploads_survive_a_restart_with_a_sqlite_store(tmp_path: FsPath) -> None:
    database = tmp_path / "cloud.sqlite"
    store = CloudStore.open(database)
    async with inventory_env(models=shipped_models(), store=store) as env:
        assert (await env.api.post(MODELS, data=TEST_OBJECT_FILE.read_bytes())).status == 200
        assert (await env.api.post(MODELS, data=as_xml(custom_model(40000)))).status == 200
    store.close()
    store = CloudStore.open(database)
    try:
        async with inventory_env(models=shipped_models(), store=store) as env:
            assert 32769 in env.server.models and 40000 in env.server.models
            assert [m["format"] for m in (await env.api.get(MODELS)).json()] == ["json", "xml"]
            await env.start_agent(ENDPOINT)
            read = await env.api.get(f"/v1/devices/{env.device_id(ENDPOINT)}/32769/0/0")
            assert read.status == 200 and read.json()["value"] == "hello"
    finally:
        store.close()
