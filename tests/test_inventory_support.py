"""Shared parts of the Inventory and Batch tests (this module holds no tests).

``inventory_env`` runs the whole emulated service on loopback: a real ``LwM2MServer`` (UDP), the
``Inventory`` on it, and the cloud's HTTP API with the Inventory plugged in; ``env.start_agent`` starts
real ``LwM2MClient`` agents that register to it. ``env.api`` validates every answer against the Soracom
spec like ``cloud_openapi.CheckedClient``, with one more fix-up to the spec, for a defect:

4. ``ResourceInstance.value`` and ``.values`` are declared ``type: object`` (a Java ``Object`` leaking into
   the generated spec), yet a resource's value is a string, a number or a boolean, and ``values`` maps
   resource instance ids to such values. ``value`` is left untyped and ``values`` an object of any.
5. ``BatchTaskApiRequest.body`` is declared ``type: object``, yet the body of a task that puts tags
   (``putDeviceTags``, like the ``putSimTags`` the Batch documentation lists) is an array. It is left
   untyped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import aiohttp
import yaml
from cloud_openapi import SPEC_FILE, Answer, CheckedClient, check_error_body, fix_up, login
from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.testing import MockRequest, MockResponse
from support import agent_models, all_types_instance, client_settings

from agent.client.agent import LwM2MClient
from agent.client.defaults import security_instance, server_instance
from agent.core.model import ModelRegistry
from agent.simulator.cloud import CloudConfig, CloudStore, RunningCloud, start_cloud
from agent.simulator.cloud.inventory import Inventory
from agent.simulator.cloud.inventory_settings import InventorySettings
from agent.simulator.lwm2m_server import LwM2MServer
from agent.tree import ObjectInstance, ObjectTree, StoredValue
from agent.tree.binding import ExecuteAction

API_HOST = "https://api.soracom.io"
DEVICE_INFO = {0: "ACME Corp", 1: "Sensor Hub X1", 2: "SN-0001", 3: "1.4.2"}
"""What the test agents' /3/0 says: manufacturer, model number, serial number, firmware version."""


def inventory_test_tree(server_uri: str) -> ObjectTree:
    """Objects 0, 1, 3 (fixed device facts) and the all-types test object 32769."""
    models = agent_models()
    tree = ObjectTree(models)
    tree.add_object(models.object(0))
    tree.add_instance(0, security_instance(server_uri))
    tree.add_object(models.object(1), factory=None, deletable=False)
    tree.add_instance(1, server_instance(60))
    tree.add_object(models.object(3), factory=None, deletable=False)
    facts = {rid: StoredValue(text, writable=False) for rid, text in DEVICE_INFO.items()}
    tree.add_instance(3, ObjectInstance(0, {**facts, 4: ExecuteAction(lambda _args: None)}))
    tree.add_object(models.object(32769))
    tree.add_instance(32769, all_types_instance(0))
    return tree


def inventory_fix_up(spec: dict[str, Any]) -> dict[str, Any]:
    """The checker's fix-ups, plus fix-ups 4 and 5 of the module docstring."""
    spec = fix_up(spec)
    resource = spec["components"]["schemas"]["ResourceInstance"]["properties"]
    resource["value"] = {"description": "a string, a number or a boolean"}
    resource["values"] = {"type": "object", "additionalProperties": {}}
    batch_request = spec["components"]["schemas"]["BatchTaskApiRequest"]["properties"]
    batch_request["body"] = {"description": "the JSON body of the API request"}
    return spec


@cache
def inventory_spec() -> OpenAPI:
    with SPEC_FILE.open() as stream:
        return OpenAPI.from_dict(inventory_fix_up(yaml.safe_load(stream)))


def validate_api_answer(
    method: str, raw_path: str, query: dict[str, str], status: int, headers: Any, body: bytes
) -> None:
    """Raise unless the answer is what the (fixed-up) spec's operation allows."""
    request = MockRequest(API_HOST, method.lower(), raw_path, args=query)
    content_type = headers.get("Content-Type", "application/octet-stream").split(";")[0]
    response = MockResponse(body, status_code=status, headers=dict(headers), content_type=content_type)
    try:
        inventory_spec().validate_response(request, response)
    except (PathNotFound, OperationNotFound):
        if status < 400:
            raise
        check_error_body(body)


@dataclass
class InventoryClient(CheckedClient):
    """A ``CheckedClient`` of the API host that validates with ``inventory_spec``."""

    async def request(self, method: str, path: str, **kwargs: Any) -> Answer:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        kwargs.setdefault("allow_redirects", False)
        async with self.session.request(method, self.base_url + path, headers=headers, **kwargs) as response:
            body = await response.read()
            url = response.url
            answer = Answer(response.status, response.headers, body)
        validate_api_answer(method, url.raw_path, dict(url.query), answer.status, answer.headers, body)
        return answer


async def wait_until(predicate: Callable[[], bool], timeout: float = 3.0, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


@dataclass
class InventoryEnv:
    server: LwM2MServer
    store: CloudStore
    config: CloudConfig
    inventory: Inventory
    running: RunningCloud
    api: InventoryClient
    agents: dict[str, LwM2MClient] = field(default_factory=dict)

    async def start_agent(self, endpoint: str, tree: ObjectTree | None = None) -> LwM2MClient:
        """A real agent serving the test tree, registered under ``endpoint``."""
        tree = tree or inventory_test_tree(self.server.uri)
        client = LwM2MClient(tree, client_settings(self.server.uri, endpoint))
        await client.start()
        self.agents[endpoint] = client
        await self.server.wait_registered(endpoint)
        return client

    async def stop_agent(self, endpoint: str, *, deregister: bool = True) -> None:
        client = self.agents.pop(endpoint)
        await client.stop(deregister=deregister)
        if deregister:
            await self.server.wait_for(lambda: not self.server.is_registered(endpoint))

    def device_id(self, endpoint: str) -> str:
        device = self.inventory.devices.for_endpoint(endpoint)
        assert device is not None, f"no device for endpoint {endpoint}"
        return device.device_id

    async def device_with_info(self, endpoint: str) -> dict[str, Any]:
        """The Device record of ``endpoint`` once the background read of /3/0 has filled it in."""
        device_id = self.device_id(endpoint)
        deadline = time.monotonic() + 3.0
        while True:
            answer = await self.api.get(f"/v1/devices/{device_id}")
            assert answer.status == 200, answer.body
            record: dict[str, Any] = answer.json()
            if "manufacturer" in record:
                return record
            assert time.monotonic() < deadline, "the device info never arrived"
            await asyncio.sleep(0.02)

    async def data_entries(self, device_id: str) -> list[dict[str, Any]]:
        answer = await self.api.get(f"/v1/devices/{device_id}/data", params={"sort": "asc", "limit": "1000"})
        assert answer.status == 200, answer.body
        entries: list[dict[str, Any]] = answer.json()
        return entries


@asynccontextmanager
async def inventory_env(
    *,
    models: ModelRegistry | None = None,
    store: CloudStore | None = None,
    settings: InventorySettings | None = None,
    request_timeout: float = 1.0,
) -> AsyncIterator[InventoryEnv]:
    """The emulator with Inventory and Batch over a real LwM2M server, all on loopback."""
    config = CloudConfig()
    store = store or CloudStore()
    server = LwM2MServer(models or agent_models(), host="127.0.0.1", port=0, request_timeout=request_timeout)
    await server.start()
    inventory = Inventory(server, store, config, settings)
    agents: dict[str, LwM2MClient] = {}
    try:
        await inventory.start()
        running = await start_cloud(config, store, inventory=inventory)
        try:
            async with aiohttp.ClientSession() as session:
                anonymous = CheckedClient(session, running.api_url)
                credentials = await login(anonymous, config)
                api = InventoryClient(session, running.api_url, headers=credentials)
                env = InventoryEnv(server, store, config, inventory, running, api, agents)
                try:
                    yield env
                finally:
                    for client in list(agents.values()):
                        await client.stop(deregister=False)
        finally:
            await running.close()
    finally:
        await inventory.close()
        await server.stop()
