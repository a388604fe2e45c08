"""Batch over real HTTP: groups, and jobs whose tasks call Inventory operations on real agents over
loopback UDP, with the job's and each task's status and result."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from test_inventory_support import InventoryEnv, inventory_env

from agent.core.path import Path
from agent.simulator.cloud.inventory_settings import InventorySettings
from agent.tree import StoredValue

ENDPOINTS = ("agent-a", "agent-b", "agent-c")


@pytest.fixture
async def env() -> AsyncIterator[InventoryEnv]:
    async with inventory_env() as running:
        yield running


async def new_group(env: InventoryEnv, name: str = "fleet") -> str:
    answer = await env.api.post("/v1/batch_groups", json={"batchGroupName": name, "description": "test"})
    assert answer.status == 200, answer.body
    group_id: str = answer.json()["batchGroupId"]
    return group_id


async def finished_job(env: InventoryEnv, group_id: str, job_id: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = (await env.api.get(f"/v1/batch_groups/{group_id}/jobs/{job_id}")).json()
        if job["status"] not in ("pending", "running"):
            return job
        assert time.monotonic() < deadline, f"job still {job['status']}"
        await asyncio.sleep(0.02)


async def tasks_of(env: InventoryEnv, group_id: str, job_id: str, **query: str) -> list[dict[str, Any]]:
    answer = await env.api.get(f"/v1/batch_groups/{group_id}/jobs/{job_id}/tasks", params=query)
    assert answer.status == 200, answer.body
    tasks: list[dict[str, Any]] = answer.json()
    return tasks


def task(path: str, method: str = "GET", body: Any = None) -> dict[str, Any]:
    request: dict[str, Any] = {"path": path, "method": method}
    if body is not None:
        request["body"] = body
    return {"request": request}


async def three_agents_one_offline(env: InventoryEnv) -> list[str]:
    for endpoint in ENDPOINTS:
        await env.start_agent(endpoint)
    ids = [env.device_id(endpoint) for endpoint in ENDPOINTS]
    await env.stop_agent("agent-c")
    return ids


async def test_a_read_over_three_agents_with_one_offline_fails_one_task(env: InventoryEnv) -> None:
    ids = await three_agents_one_offline(env)
    group_id = await new_group(env)
    created = await env.api.post(
        f"/v1/batch_groups/{group_id}/jobs",
        json={"jobName": "read manufacturers", "tasks": [task(f"/v1/devices/{i}/3/0/0") for i in ids]},
    )
    assert created.status == 200, created.body
    assert created.json()["status"] == "pending"
    assert created.json()["summary"] == {"pending": 3, "success": 0, "error": 0}

    job = await finished_job(env, group_id, created.json()["jobId"])
    assert job["status"] == "failed"
    assert job["summary"] == {"pending": 0, "success": 2, "error": 1}
    assert job["finishedTime"] >= job["createdTime"] and job["jobName"] == "read manufacturers"

    tasks = await tasks_of(env, group_id, job["jobId"])
    assert [t["taskId"] for t in tasks] == [1, 2, 3]
    assert [t["status"] for t in tasks] == ["success", "success", "error"]
    assert tasks[0]["response"] == {
        "statusCode": 200,
        "body": {"id": 0, "observed": False, "value": "ACME Corp"},
    }
    assert tasks[0]["request"] == {"path": f"/v1/devices/{ids[0]}/3/0/0", "method": "GET"}
    assert tasks[2]["response"]["statusCode"] == 400
    assert tasks[2]["response"]["body"]["code"] == "INV0001"
    assert all(t["startedTime"] <= t["finishedTime"] for t in tasks)

    errors = await tasks_of(env, group_id, job["jobId"], status="error")
    assert [t["taskId"] for t in errors] == [3]
    page = await env.api.get(f"/v1/batch_groups/{group_id}/jobs/{job['jobId']}/tasks", params={"limit": "2"})
    assert [t["taskId"] for t in page.json()] == [1, 2] and page.headers["x-soracom-next-key"] == "2"
    rest = await tasks_of(env, group_id, job["jobId"], limit="2", last_evaluated_key="2")
    assert [t["taskId"] for t in rest] == [3]


async def test_a_write_job_changes_every_online_agent(env: InventoryEnv) -> None:
    ids = await three_agents_one_offline(env)
    group_id = await new_group(env)
    tasks = [task(f"/v1/devices/{i}/32769/0/0", "PUT", {"value": "set by batch"}) for i in ids[:2]]
    created = await env.api.post(f"/v1/batch_groups/{group_id}/jobs", json={"tasks": tasks})
    job = await finished_job(env, group_id, created.json()["jobId"])
    assert job["status"] == "completed" and job["summary"] == {"pending": 0, "success": 2, "error": 0}
    assert [t["response"] for t in await tasks_of(env, group_id, job["jobId"])] == [{"statusCode": 202}] * 2
    for endpoint in ENDPOINTS[:2]:
        value = env.agents[endpoint].tree.instance(Path(32769, 0)).resources[0]
        assert isinstance(value, StoredValue) and value.value == "set by batch"


async def test_abort_on_failure_stops_the_remaining_tasks() -> None:
    async with inventory_env(settings=InventorySettings(batch_concurrency=1)) as env:
        ids = await three_agents_one_offline(env)
        group_id = await new_group(env)
        tasks = [task(f"/v1/devices/{i}/3/0/0") for i in (ids[2], ids[0], ids[1])]
        created = await env.api.post(
            f"/v1/batch_groups/{group_id}/jobs", json={"tasks": tasks, "abortOnFailure": True}
        )
        job = await finished_job(env, group_id, created.json()["jobId"])
        assert job["status"] == "aborted" and job["summary"] == {"pending": 2, "success": 0, "error": 1}
        assert "abortOnFailure" in job["errorMessage"]
        assert [t["status"] for t in await tasks_of(env, group_id, job["jobId"])] == [
            "error",
            "pending",
            "pending",
        ]


async def test_tags_and_groups_run_as_batch_tasks(env: InventoryEnv) -> None:
    ids = [(await env.api.post("/v1/devices")).json()["device_id"] for _ in range(3)]
    group_id = await new_group(env)
    tags = [task(f"/v1/devices/{i}/tags", "PUT", [{"tagName": "wave", "tagValue": "1"}]) for i in ids]
    created = await env.api.post(f"/v1/batch_groups/{group_id}/jobs", json={"tasks": tags})
    assert (await finished_job(env, group_id, created.json()["jobId"]))["status"] == "completed"
    listed = await env.api.get("/v1/devices", params={"tag_name": "wave", "tag_value": "1"})
    assert len(listed.json()) == 3
    [first, *_] = await tasks_of(env, group_id, created.json()["jobId"])
    assert first["request"]["body"] == [{"tagName": "wave", "tagValue": "1"}]
    assert first["response"]["statusCode"] == 200 and first["response"]["body"]["tags"] == {"wave": "1"}
    groups = [task(f"/v1/devices/{i}/set_group", "POST", {"groupId": "g-9"}) for i in ids]
    created = await env.api.post(f"/v1/batch_groups/{group_id}/jobs", json={"tasks": groups})
    assert (await finished_job(env, group_id, created.json()["jobId"]))["status"] == "completed"
    assert all(d["groupId"] == "g-9" for d in (await env.api.get("/v1/devices")).json())


@pytest.mark.parametrize(
    ("tasks", "words"),
    [
        ([], "field tasks is required"),
        ([task("/v1/devices/d-1/3/0/0"), task("/v1/devices/d-1/3/0")], "a batch job calls one API"),
        ([task("/v1/sims/123/activate", "POST")], "is not an API a batch job can call"),
        ([task("/v1/devices", "GET")], "is not an API a batch job can call"),
        ([task("/v1/devices/d-1/3/0/0", "PATCH")], "method must be one of"),
        ([{"request": {"method": "GET"}}], "tasks[0].request.path is required"),
        (["GET /v1/devices"], "tasks[0] must be an object"),
    ],
)
async def test_bad_jobs_are_refused(env: InventoryEnv, tasks: list[Any], words: str) -> None:
    group_id = await new_group(env)
    answer = await env.api.post(f"/v1/batch_groups/{group_id}/jobs", json={"tasks": tasks})
    assert answer.status == 400, answer.body
    assert words in answer.json()["message"]
    assert (await env.api.get(f"/v1/batch_groups/{group_id}/jobs")).json() == []


async def test_too_many_tasks_are_refused() -> None:
    async with inventory_env(settings=InventorySettings(batch_max_tasks=2)) as env:
        group_id = await new_group(env)
        tasks = [task(f"/v1/devices/d-{n}/3/0/0") for n in range(3)]
        answer = await env.api.post(f"/v1/batch_groups/{group_id}/jobs", json={"tasks": tasks})
        assert answer.status == 400 and "at most 2 tasks" in answer.json()["message"]


async def test_one_running_job_per_action_and_no_delete_while_running() -> None:
    async with inventory_env(request_timeout=0.6) as env:
        await env.start_agent("silent")
        await env.stop_agent("silent", deregister=False)  # registered, but nobody answers
        silent = env.device_id("silent")
        group_id = await new_group(env)
        first = await env.api.post(
            f"/v1/batch_groups/{group_id}/jobs", json={"tasks": [task(f"/v1/devices/{silent}/3/0/0")]}
        )
        assert first.status == 200
        second = await env.api.post(
            f"/v1/batch_groups/{group_id}/jobs", json={"tasks": [task(f"/v1/devices/{silent}/3/0/1")]}
        )
        assert second.status == 400 and "already running" in second.json()["message"]
        other_action = await env.api.post(
            f"/v1/batch_groups/{group_id}/jobs", json={"tasks": [task(f"/v1/devices/{silent}/3/0")]}
        )
        assert other_action.status == 200, "another API may run at the same time"
        busy = await env.api.delete(f"/v1/batch_groups/{group_id}")
        assert busy.status == 400 and "running" in busy.json()["message"]
        job = await finished_job(env, group_id, first.json()["jobId"])
        assert job["status"] == "failed"
        [failed] = await tasks_of(env, group_id, job["jobId"])
        assert (
            failed["response"]["statusCode"] == 400
            and "did not answer" in failed["response"]["body"]["message"]
        )
        await finished_job(env, group_id, other_action.json()["jobId"])
        assert (await env.api.delete(f"/v1/batch_groups/{group_id}")).status == 204


async def test_groups_crud_and_paging(env: InventoryEnv) -> None:
    ids = sorted([await new_group(env, f"g{n}") for n in range(3)])
    assert (await env.api.post("/v1/batch_groups", json={})).status == 400
    assert (await env.api.post("/v1/batch_groups", json={"batchGroupName": "x" * 101})).status == 400
    first = await env.api.get("/v1/batch_groups", params={"limit": "2"})
    assert [g["batchGroupId"] for g in first.json()] == ids[:2]
    rest = await env.api.get(
        "/v1/batch_groups", params={"last_evaluated_key": first.headers["x-soracom-next-key"]}
    )
    assert [g["batchGroupId"] for g in rest.json()] == ids[2:]

    updated = await env.api.put(f"/v1/batch_groups/{ids[0]}", json={"batchGroupName": "renamed"})
    assert updated.status == 200 and updated.json()["batchGroupName"] == "renamed"
    assert updated.json()["description"] == "test"
    assert (await env.api.get(f"/v1/batch_groups/{ids[0]}")).json()["batchGroupName"] == "renamed"
    assert (await env.api.delete(f"/v1/batch_groups/{ids[0]}")).status == 204
    for answer in await asyncio.gather(
        env.api.get(f"/v1/batch_groups/{ids[0]}"),
        env.api.put(f"/v1/batch_groups/{ids[0]}", json={"batchGroupName": "x"}),
        env.api.get(f"/v1/batch_groups/{ids[0]}/jobs"),
        env.api.post(f"/v1/batch_groups/{ids[0]}/jobs", json={"tasks": [task("/v1/devices/d-1/3/0/0")]}),
        env.api.get(f"/v1/batch_groups/{ids[1]}/jobs/nope"),
        env.api.get(f"/v1/batch_groups/{ids[1]}/jobs/nope/tasks"),
    ):
        assert answer.status == 404


async def test_jobs_list_in_creation_order_with_paging(env: InventoryEnv) -> None:
    device_id = (await env.api.post("/v1/devices")).json()["device_id"]
    group_id = await new_group(env)
    job_ids = []
    for n in range(3):
        created = await env.api.post(
            f"/v1/batch_groups/{group_id}/jobs",
            json={"jobName": f"job {n}", "tasks": [task(f"/v1/devices/{device_id}/tags/t{n}", "DELETE")]},
        )
        job_ids.append(created.json()["jobId"])
        await finished_job(env, group_id, job_ids[-1])
    first = await env.api.get(f"/v1/batch_groups/{group_id}/jobs", params={"limit": "2"})
    assert [j["jobId"] for j in first.json()] == job_ids[:2]
    rest = await env.api.get(
        f"/v1/batch_groups/{group_id}/jobs",
        params={"last_evaluated_key": first.headers["x-soracom-next-key"]},
    )
    assert [j["jobId"] for j in rest.json()] == job_ids[2:]
    assert all(j["status"] == "failed" for j in rest.json()), "deleting a tag the device lacks is a 404 task"
