"""Soracom Batch: groups of jobs, each job one API action called for many targets, run in the background.

A job's tasks each name an API call (``{"request": {"path": "/v1/devices/d-…/3/0/0", "method": "GET"}}``);
the emulator runs the Inventory device operations this way (read, write, execute, observe, unobserve,
tags, groups: the ``batchable`` ``ApiOperation``s), through the very functions the HTTP routes call, and
keeps each task's status code and body. The service's rules hold: one API action per job, at most
10,000 tasks, one running job per action at a time (400 otherwise). Tasks run concurrently, at most
``batch_concurrency`` at once; a task whose call fails (a device offline answers 400) is an ``error``
task and makes the job ``failed`` at the end, not at once, unless ``abortOnFailure`` stops the rest
(``aborted``). Times are UNIX seconds, as the API's examples are.

Groups, jobs and tasks are kept in the store; a job that was running when the emulator stopped is
``aborted`` when it starts again, since its tasks were not all run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from multidict import MultiDict
from yarl import URL

from agent.simulator.cloud.errors import bad_request
from agent.simulator.cloud.inventory_api import ApiCall, ApiOperation, ApiOutcome, call_outcome
from agent.simulator.cloud.inventory_settings import InventorySettings
from agent.simulator.cloud.records import RuleViolation, UnknownItem
from agent.simulator.cloud.store import CloudStore

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 500
_METHODS = ("POST", "GET", "PUT", "DELETE")
_UNFINISHED = ("pending", "running")


def _now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class _PreparedTask:
    task_id: int
    request: dict[str, Any]
    call: ApiCall


def _text_field(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(f"field {name} is required")
        return None
    if not isinstance(value, str) or len(value) > limit or (required and not value):
        raise bad_request(f"field {name} must be a string of at most {limit} characters")
    return value


def _page(
    items: list[dict[str, Any]], key: str, limit: int | None, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    if after is not None:
        ids = [item[key] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    if limit is not None and len(items) > limit:
        page = items[:limit]
        return page, page[-1][key] if page else None
    return items, None


class BatchService:
    """Batch groups and jobs over the ``targets`` operations (see the module docstring)."""

    def __init__(
        self, store: CloudStore, settings: InventorySettings, targets: Sequence[ApiOperation]
    ) -> None:
        self.store = store
        self.settings = settings
        # Most literal segments first: /devices/{id}/tags/{name} wins over /devices/{id}/{object}/{instance}.
        self.targets = sorted((op for op in targets if op.batchable), key=lambda op: -op.literal_segments)
        self._running: dict[str, tuple[str, asyncio.Task[None]]] = {}  # job id -> (action, runner)

    def operations(self) -> list[ApiOperation]:
        group = "/v1/batch_groups/{batch_group_id}"
        return [
            ApiOperation("listBatchGroups", "GET", "/v1/batch_groups", self.list_groups),
            ApiOperation("createBatchGroup", "POST", "/v1/batch_groups", self.create_group),
            ApiOperation("getBatchGroup", "GET", group, self.get_group),
            ApiOperation("updateBatchGroup", "PUT", group, self.update_group),
            ApiOperation("deleteBatchGroup", "DELETE", group, self.delete_group),
            ApiOperation("listBatchJobs", "GET", group + "/jobs", self.list_jobs),
            ApiOperation("createBatchJob", "POST", group + "/jobs", self.create_job),
            ApiOperation("getBatchJob", "GET", group + "/jobs/{job_id}", self.get_job),
            ApiOperation("listTasksOfBatchJob", "GET", group + "/jobs/{job_id}/tasks", self.list_tasks),
        ]

    def start(self) -> None:
        """Mark jobs a previous run left unfinished as aborted."""
        for job in self.store.list_batch_jobs():
            if job["status"] in _UNFINISHED and job["jobId"] not in self._running:
                self._finish(job, "aborted", "the emulator stopped before the job finished")

    async def close(self) -> None:
        runners = [runner for _, runner in self._running.values()]
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        self._running.clear()
        self.start()

    async def wait_idle(self) -> None:
        """Wait until no job is running (for tests and a clean shutdown)."""
        while self._running:
            await asyncio.gather(
                *(runner for _, runner in list(self._running.values())), return_exceptions=True
            )

    # ---- groups --------------------------------------------------------------------------------------

    def _group(self, group_id: str) -> dict[str, Any]:
        group = self.store.get_batch_group(group_id)
        if group is None:
            raise UnknownItem(f"no such batch group: {group_id}")
        return group

    async def list_groups(self, call: ApiCall) -> ApiOutcome:
        groups, next_key = _page(
            self.store.list_batch_groups(),
            "batchGroupId",
            call.int_query("limit", minimum=1),
            call.query.get("last_evaluated_key") or None,
        )
        return ApiOutcome(200, groups, next_key)

    async def create_group(self, call: ApiCall) -> ApiOutcome:
        body = call.json_object()
        name = _text_field(body, "batchGroupName", MAX_NAME_LENGTH, required=True)
        description = _text_field(body, "description", MAX_DESCRIPTION_LENGTH)
        stamp = _now()
        group_id = secrets.token_hex(8)
        group = {
            "batchGroupId": group_id,
            "batchGroupName": name,
            "description": description or "",
            "createdTime": stamp,
            "updatedTime": stamp,
        }
        self.store.save_batch_group(group_id, group)
        return ApiOutcome(200, group)

    async def get_group(self, call: ApiCall) -> ApiOutcome:
        return ApiOutcome(200, self._group(call.param("batch_group_id")))

    async def update_group(self, call: ApiCall) -> ApiOutcome:
        group = self._group(call.param("batch_group_id"))
        body = call.json_object()
        name = _text_field(body, "batchGroupName", MAX_NAME_LENGTH)
        description = _text_field(body, "description", MAX_DESCRIPTION_LENGTH)
        if name is not None:
            if not name:
                raise bad_request("field batchGroupName must not be empty")
            group["batchGroupName"] = name
        if description is not None:
            group["description"] = description
        group["updatedTime"] = _now()
        self.store.save_batch_group(group["batchGroupId"], group)
        return ApiOutcome(200, group)

    async def delete_group(self, call: ApiCall) -> ApiOutcome:
        group_id = call.param("batch_group_id")
        self._group(group_id)
        if any(job["status"] in _UNFINISHED for job in self.store.list_batch_jobs(group_id)):
            raise RuleViolation(f"batch group {group_id} has a running job; wait for it to finish")
        self.store.delete_batch_group(group_id)
        return ApiOutcome(204)

    # ---- jobs ----------------------------------------------------------------------------------------

    def _job(self, group_id: str, job_id: str) -> dict[str, Any]:
        self._group(group_id)
        job = self.store.get_batch_job(job_id)
        if job is None or job["batchGroupId"] != group_id:
            raise UnknownItem(f"no such batch job in group {group_id}: {job_id}")
        return job

    async def list_jobs(self, call: ApiCall) -> ApiOutcome:
        group_id = call.param("batch_group_id")
        self._group(group_id)
        jobs, next_key = _page(
            self.store.list_batch_jobs(group_id),
            "jobId",
            call.int_query("limit", minimum=1),
            call.query.get("last_evaluated_key") or None,
        )
        return ApiOutcome(200, jobs, next_key)

    async def get_job(self, call: ApiCall) -> ApiOutcome:
        return ApiOutcome(200, self._job(call.param("batch_group_id"), call.param("job_id")))

    async def list_tasks(self, call: ApiCall) -> ApiOutcome:
        job = self._job(call.param("batch_group_id"), call.param("job_id"))
        status = call.query.get("status")
        if status is not None and status not in ("pending", "success", "error"):
            raise bad_request(f"query parameter status must be pending, success or error, not {status!r}")
        after_raw = call.query.get("last_evaluated_key") or None
        after: int | None = None
        if after_raw is not None:
            if not after_raw.isdigit():
                raise bad_request(
                    f"last_evaluated_key must be a task id from x-soracom-next-key, not {after_raw!r}"
                )
            after = int(after_raw)
        tasks, next_key = self.store.batch_tasks(
            job["jobId"], status=status, after=after, limit=call.int_query("limit", minimum=1)
        )
        return ApiOutcome(200, tasks, None if next_key is None else str(next_key))

    def _prepare(self, index: int, raw: Any) -> tuple[ApiOperation, _PreparedTask]:
        where = f"tasks[{index}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
            raise bad_request(f"{where} must be an object with a request object")
        request = raw["request"]
        path, method = request.get("path"), request.get("method")
        if not isinstance(path, str) or not path:
            raise bad_request(f"{where}.request.path is required and must be a string")
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise bad_request(f"{where}.request.method must be one of {', '.join(_METHODS)}")
        url = URL(path)
        for operation in self.targets:
            params = operation.match(method, url.path)
            if params is not None:
                break
        else:
            supported = ", ".join(f"{op.method} {op.path}" for op in self.targets)
            raise bad_request(
                f"{where}.request: {method} {path} is not an API a batch job can call; "
                f"the emulator's Batch calls: {supported}"
            )
        body = b"" if request.get("body") is None else json.dumps(request["body"]).encode()
        call = ApiCall(params=params, query=MultiDict(url.query), body=body)
        echo = {
            "path": path,
            "method": method.upper(),
            **({"body": request["body"]} if "body" in request else {}),
        }
        return operation, _PreparedTask(index + 1, echo, call)

    async def create_job(self, call: ApiCall) -> ApiOutcome:
        group_id = call.param("batch_group_id")
        self._group(group_id)
        body = call.json_object()
        raw_tasks = body.get("tasks")
        if not isinstance(raw_tasks, list) or not raw_tasks:
            raise bad_request("field tasks is required: a non-empty list of {request: {path, method, body}}")
        if len(raw_tasks) > self.settings.batch_max_tasks:
            raise bad_request(
                f"a batch job has at most {self.settings.batch_max_tasks} tasks, not {len(raw_tasks)}"
            )
        abort_on_failure = body.get("abortOnFailure", False)
        if not isinstance(abort_on_failure, bool):
            raise bad_request("field abortOnFailure must be a boolean")
        job_name = _text_field(body, "jobName", MAX_NAME_LENGTH)
        description = _text_field(body, "description", MAX_DESCRIPTION_LENGTH)
        prepared = [self._prepare(index, raw) for index, raw in enumerate(raw_tasks)]
        action = prepared[0][0]
        for index, (operation, _) in enumerate(prepared):
            if operation is not action:
                raise bad_request(
                    f"a batch job calls one API: tasks[0] calls {action.name}, "
                    f"tasks[{index}] calls {operation.name}"
                )
        if any(running_action == action.name for running_action, _ in self._running.values()):
            raise bad_request(f"a batch job calling {action.name} is already running; wait for it to finish")
        stamp = _now()
        job: dict[str, Any] = {
            "jobId": secrets.token_hex(8),
            "batchGroupId": group_id,
            "jobName": job_name or "",
            "description": description or "",
            "abortOnFailure": abort_on_failure,
            "status": "pending",
            "summary": {"pending": len(prepared), "success": 0, "error": 0},
            "createdTime": stamp,
            "updatedTime": stamp,
        }
        tasks = [task for _, task in prepared]
        self.store.save_batch_job(group_id, job["jobId"], job)
        self.store.save_batch_tasks(
            job["jobId"],
            [
                (
                    task.task_id,
                    "pending",
                    {"taskId": task.task_id, "status": "pending", "request": task.request},
                )
                for task in tasks
            ],
        )
        runner = asyncio.get_running_loop().create_task(self._run(dict(job), action, tasks))
        self._running[job["jobId"]] = (action.name, runner)
        runner.add_done_callback(lambda _: self._running.pop(job["jobId"], None))
        return ApiOutcome(200, job)

    async def _run(self, job: dict[str, Any], action: ApiOperation, tasks: list[_PreparedTask]) -> None:
        job.update(status="running", updatedTime=_now())
        self._save_job(job)
        semaphore = asyncio.Semaphore(self.settings.batch_concurrency)
        aborted = False

        async def run_task(task: _PreparedTask) -> None:
            nonlocal aborted
            async with semaphore:
                if aborted:
                    return
                started = _now()
                outcome = await self._call(action, task)
                status = "success" if 200 <= outcome.status < 300 else "error"
                response: dict[str, Any] = {"statusCode": outcome.status}
                if outcome.body is not None:
                    response["body"] = outcome.body
                record = {
                    "taskId": task.task_id,
                    "status": status,
                    "request": task.request,
                    "response": response,
                    "startedTime": started,
                    "finishedTime": _now(),
                }
                self.store.save_batch_tasks(job["jobId"], [(task.task_id, status, record)])
                summary = job["summary"]
                summary["pending"] -= 1
                summary[status] += 1
                job["updatedTime"] = _now()
                self._save_job(job)
                if status == "error" and job["abortOnFailure"]:
                    aborted = True

        try:
            await asyncio.gather(*(run_task(task) for task in tasks))
        except Exception:
            log.exception("batch job %s stopped", job["jobId"])
            self._finish(job, "aborted", "the job stopped on an internal error")
            return
        if aborted:
            self._finish(job, "aborted", "a task failed and abortOnFailure is set")
        elif job["summary"]["error"]:
            self._finish(job, "failed", f"{job['summary']['error']} of {len(tasks)} tasks failed")
        else:
            self._finish(job, "completed")

    @staticmethod
    async def _call(action: ApiOperation, task: _PreparedTask) -> ApiOutcome:
        try:
            return await call_outcome(action, task.call)
        except Exception:  # a bug in an operation fails its task, never the whole job
            log.exception("batch task %s (%s) failed", task.task_id, action.name)
            return ApiOutcome(500, {"code": "COM0003", "message": "Internal server error"})

    def _save_job(self, job: dict[str, Any]) -> None:
        self.store.save_batch_job(job["batchGroupId"], job["jobId"], job)

    def _finish(self, job: dict[str, Any], status: str, error_message: str | None = None) -> None:
        stamp = _now()
        job.update(status=status, updatedTime=stamp, finishedTime=stamp)
        if error_message is not None:
            job["errorMessage"] = error_message
        self._save_job(job)
