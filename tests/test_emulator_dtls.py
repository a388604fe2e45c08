"""The emulator with ``security="psk"``: devices register over DTLS with their id and secret, and are
managed through the HTTP API over their sessions; a session's identity decides which device it is.

Devices here are ``DtlsDevice`` (aiocoap's tinydtls client serving the agent's own site) over real
loopback DTLS; the API is reached over real HTTP and every answer is checked against the Soracom spec.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiocoap import Code, Context, Message
from aiocoap.error import NetworkError
from cloud_openapi import CheckedClient, login
from dtls_device import DtlsDevice
from support import agent_models, build_tree, client_settings
from test_inventory_support import InventoryClient, wait_until

from agent.client.account import server_account
from agent.client.agent import LwM2MClient
from agent.client.defaults import default_tree
from agent.core.path import Path
from agent.simulator.emulator import Emulator, EmulatorSettings
from agent.simulator.lwm2m_server import ClientError
from agent.tree import StoredValue


@dataclass
class PskEnv:
    emulator: Emulator
    api: InventoryClient

    async def create_device(self, **body: Any) -> tuple[str, bytes]:
        """``POST /v1/devices`` as a user would: the new device's id and its secret key, decoded."""
        created = await self.api.post("/v1/devices", json=body)
        assert created.status == 201, created.body
        record = created.json()
        return record["device_id"], base64.b64decode(record["secretKey"], validate=True)

    async def device(self, device_id: str) -> DtlsDevice:
        key = base64.b64decode(self.emulator.store.device_secret(device_id) or "")  # type: ignore[union-attr]
        return await DtlsDevice(self.emulator.dm_server_uri, device_id, key).start()

    async def record(self, device_id: str) -> dict[str, Any]:
        answer = await self.api.get(f"/v1/devices/{device_id}")
        assert answer.status == 200, answer.body
        found: dict[str, Any] = answer.json()
        return found


@pytest.fixture
async def env() -> AsyncIterator[PskEnv]:
    emulator = Emulator(agent_models(), EmulatorSettings(security="psk", read_device_info=False))
    await emulator.start()
    try:
        assert emulator.cloud is not None
        async with aiohttp.ClientSession() as session:
            credentials = await login(CheckedClient(session, emulator.cloud.api_url), emulator.config)
            yield PskEnv(emulator, InventoryClient(session, emulator.cloud.api_url, headers=credentials))
    finally:
        await emulator.close()


async def test_the_dm_server_is_coaps_and_the_plain_server_only_on_loopback(env: PskEnv) -> None:
    emulator = env.emulator
    assert emulator.front is not None and emulator.server is not None
    assert emulator.dm_server_uri == f"coaps://127.0.0.1:{emulator.front.port}"
    assert emulator.server.host == "127.0.0.1" and emulator.server.port != emulator.front.port
    # Plain CoAP straight to the server behind the front is refused: there is no identity to trust.
    context = await Context.create_client_context()
    try:
        register = Message(code=Code.POST, uri=f"coap://127.0.0.1:{emulator.server.port}/rd",
                           uri_query=("ep=sneaky",), payload=b"</3/0>")
        answer = await asyncio.wait_for(context.request(register).response, 5)
        assert answer.code == Code.FORBIDDEN and b"DTLS" in answer.payload
    finally:
        await context.shutdown()
    assert not emulator.server.is_registered("sneaky")


async def test_a_console_device_registers_over_dtls_and_is_managed_through_the_api(env: PskEnv) -> None:
    device_id, key = await env.create_device(tags={"room": "lab"})
    device = await DtlsDevice(env.emulator.dm_server_uri, device_id, key).start()
    try:
        assert (await device.register("lab-gateway")).code == Code.CREATED
        record = await env.record(device_id)
        assert record["online"] is True and record["endpoint"] == "lab-gateway"
        assert record["ipAddress"] == "127.0.0.1" and record["tags"] == {"room": "lab"}
        base = f"/v1/devices/{device_id}"
        read = await env.api.get(base + "/32769/0/0")
        assert read.status == 200 and read.json()["value"] == "hello"
        written = await env.api.put(base + "/32769/0/0", json={"value": "set over coaps"})
        assert written.status == 202
        assert [v.value for v in await device.tree.read(Path(32769, 0, 0))] == ["set over coaps"]
        executed = await env.api.post(base + "/32769/0/12/execute", json={"value": "0='go'"})
        assert executed.status == 202
        assert (await env.api.get(base + "/32769/0/13")).json()["value"] == "0='go'"

        assert (await env.api.post(base + "/32769/0/1/observe")).status == 202
        store = env.emulator.store
        assert store is not None
        await wait_until(lambda: len(store.data_entries("Device", device_id)[0]) == 1)
        binding = device.tree.instance(Path(32769, 0)).resources[1]
        assert isinstance(binding, StoredValue)
        binding.set(99)
        await wait_until(lambda: len(store.data_entries("Device", device_id)[0]) == 2)
        [_, last] = (await env.api.get(base + "/data", params={"sort": "asc"})).json()
        assert json.loads(last["content"])["resources"]["1"]["value"] == 99
    finally:
        await device.close()


async def test_a_session_registers_only_its_own_devices_endpoint(env: PskEnv) -> None:
    owner_id, _ = await env.create_device(endpoint="ep-owner")
    other_id, _ = await env.create_device()
    owner, other = await env.device(owner_id), await env.device(other_id)
    server = env.emulator.server
    assert server is not None
    try:
        assert (await owner.register("ep-owner")).code == Code.CREATED
        owner_remote = server.registration("ep-owner").remote
        # Another device's identity naming the owner's endpoint, or the owner's id, takes nothing over.
        for stolen in ("ep-owner", owner_id):
            refused = await other.register(stolen)
            assert refused.code == Code.FORBIDDEN and other_id.encode() in refused.payload
        assert server.registration("ep-owner").remote is owner_remote
        assert (await env.record(owner_id))["endpoint"] == "ep-owner"
        assert "endpoint" not in await env.record(other_id)
        # Nor may it update or de-register the owner's registration by its location.
        other.location = owner.location
        assert (await other.update()).code == Code.FORBIDDEN
        delete = Message(code=Code.DELETE, uri=f"{other.server_uri}/{'/'.join(owner.location)}")
        assert (await other.send(delete)).code == Code.FORBIDDEN
        assert server.is_registered("ep-owner")
        # A device bound to an endpoint keeps it; one without takes a free name, once.
        assert (await owner.register("ep-renamed")).code == Code.FORBIDDEN
        assert (await other.register("ep-other")).code == Code.CREATED
        assert (await env.record(other_id))["endpoint"] == "ep-other"
        assert (await other.register("ep-other-2")).code == Code.FORBIDDEN
        assert (await owner.update()).code == Code.CHANGED
    finally:
        await owner.close()
        await other.close()


async def test_a_device_registering_with_its_id_as_endpoint_is_that_device(env: PskEnv) -> None:
    device_id, key = await env.create_device()
    device = await DtlsDevice(env.emulator.dm_server_uri, device_id, key).start()
    try:
        assert (await device.register(device_id)).code == Code.CREATED
        assert env.emulator.device_id(device_id) == device_id
        assert (await env.record(device_id))["online"] is True
        assert len((await env.api.get("/v1/devices")).json()) == 1, "no second device appeared"
    finally:
        await device.close()


async def test_a_deleted_device_can_no_longer_handshake(env: PskEnv) -> None:
    device_id, key = await env.create_device()
    assert (await env.api.delete(f"/v1/devices/{device_id}")).status == 204
    device = await DtlsDevice(env.emulator.dm_server_uri, device_id, key).start()
    try:
        with pytest.raises(NetworkError):  # the handshake fails: unknown PSK identity
            await device.register("gone")
    finally:
        await device.close()


async def test_the_agent_bootstraps_a_psk_account_and_registers_with_it_over_dtls(env: PskEnv) -> None:
    emulator = env.emulator
    assert emulator.bootstrap is not None and emulator.server is not None and emulator.front is not None
    tree = build_tree("coap://127.0.0.1:9")  # the DM server comes from bootstrap
    settings = client_settings("coap://127.0.0.1:9", endpoint="boot-psk")
    settings.bootstrap_uri = emulator.bootstrap.uri
    agent = LwM2MClient(tree, settings)
    await agent.start()
    try:
        record = await emulator.bootstrap.wait_finished("boot-psk")
        assert record.finished, record.error
        account = server_account(tree)
        assert account.server_uri == emulator.dm_server_uri and account.server_uri.startswith("coaps://")
        assert account.security_mode == 0  # PSK
        assert account.identity == record.device_id.encode() and len(account.secret_key) == 16
        assert account.short_server_id == 123
        registration = await emulator.server.wait_registered("boot-psk")
        assert emulator.front.identity_of(registration.remote) == record.device_id
        assert emulator.device_id("boot-psk") == record.device_id
        read = await env.api.get(f"/v1/devices/{record.device_id}/32769/0/0")
        assert read.status == 200 and read.json()["value"] == "hello"
    finally:
        await agent.stop(deregister=True)


async def test_the_agent_comes_back_after_the_server_forgets_its_session(env: PskEnv) -> None:
    emulator = env.emulator
    assert emulator.server is not None and emulator.front is not None
    emulator.server.request_timeout = 1.0
    device_id, key = await env.create_device()
    uri = emulator.dm_server_uri
    tree = default_tree(uri, simulate=True, models=agent_models(), identity=device_id.encode(), secret_key=key)
    agent = LwM2MClient(tree, client_settings(uri, endpoint="comes-back"))
    await agent.start()
    try:
        registration = await emulator.server.wait_registered("comes-back")
        first = emulator.front.session_for(registration.remote)
        assert first is not None and first.identity == device_id
        emulator.front.drop_sessions()  # as a server restart or a NAT timeout would
        with pytest.raises(ClientError):
            await emulator.server.read("comes-back", "/3/0/0")
        # The agent's next Update goes unanswered; it shakes hands again and gets through.
        assert agent.engine is not None
        agent.engine.trigger_update()

        def back() -> bool:
            session = emulator.front.session_for(emulator.server.registration("comes-back").remote)  # type: ignore[union-attr]
            return session is not None and session is not first and session.identity == device_id

        await wait_until(back, timeout=15)
        assert (await emulator.server.read("comes-back", "/3/0/0")).ok
    finally:
        await agent.stop(deregister=False)


def test_security_must_be_nosec_or_psk() -> None:
    with pytest.raises(ValueError, match="nosec, psk"):
        EmulatorSettings(security="tls")
