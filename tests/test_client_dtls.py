"""The agent over DTLS PSK, end to end on loopback: the project's LwM2MClient behind aiocoap's tinydtls
client, the emulator's DTLS front before the plain LwM2M server.

Covers what a Soracom Inventory device does: a device key without bootstrap, read/write/execute/
observe from the server over the agent's session, a wrong key refused while the agent keeps going, a
server that loses its sessions and reaches the agent again, the Security object closed to the DM
server, and a restart that resumes from the state directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path as FsPath

import pytest
from support import agent_models, build_tree, client_settings

from agent.client.agent import LwM2MClient
from agent.client.defaults import default_tree
from agent.core.formats import ContentFormat
from agent.simulator.bootstrap_server import BootstrapServer, BootstrapSettings
from agent.simulator.dtls_front import DtlsFront
from agent.simulator.lwm2m_server import ClientError, LwM2MServer
from agent.tree import ObjectTree

IDENTITY = "d-agent0000000000test"
KEY = bytes(range(16))
KEYS = {IDENTITY: KEY}
EP = "dtls-agent"


def psk_tree(uri: str, identity: str = IDENTITY, key: bytes = KEY) -> ObjectTree:
    tree = default_tree(server_uri=uri, lifetime=60, simulate=True, models=agent_models(),
                        identity=identity.encode(), secret_key=key)
    base = build_tree(uri)  # the all-types test object
    tree.add_object(base.models.object(32769))
    tree.add_instance(32769, base.objects[32769].instances[0])
    return tree


@pytest.fixture
async def front(server: LwM2MServer) -> AsyncIterator[DtlsFront]:
    front = DtlsFront(("127.0.0.1", server.port), KEYS.get)
    await front.start()
    try:
        yield front
    finally:
        await front.close()


async def start_agent(uri: str, tree: ObjectTree | None = None, state_dir: FsPath | None = None,
                      **overrides: object) -> LwM2MClient:
    settings = client_settings(uri, endpoint=EP, **{"lifetime": 20, **overrides})
    settings.state_dir = state_dir
    client = LwM2MClient(tree or psk_tree(uri), settings)
    await client.start()
    return client


async def test_device_key_register_and_manage_over_dtls(server: LwM2MServer, front: DtlsFront) -> None:
    client = await start_agent(front.uri)
    try:
        await client.wait_registered(5)
        reg = server.registration(EP)
        assert front.identity_of(reg.remote) == IDENTITY, "the registration came over the PSK session"
        assert client.link is not None and client.link.handshakes == 1
        # Read, write, execute and observe from the server, over the agent's own session.
        assert (await server.read(EP, "/3/0/0", ContentFormat.TEXT)).code == "2.05"
        written = await server.write(EP, "/32769/0/0", "dtls-text", content_format=ContentFormat.TEXT)
        assert written.code == "2.04"
        assert (await server.read(EP, "/32769/0/0", ContentFormat.TEXT)).text == "dtls-text"
        assert (await server.execute(EP, "/32769/0/12", "0='x'")).code == "2.04"
        observation = await server.observe(EP, "/32769/0/0", ContentFormat.TEXT)
        assert observation.first is not None and observation.first.text == "dtls-text"
        await server.write(EP, "/32769/0/0", "changed", content_format=ContentFormat.TEXT)
        assert (await observation.next(3)).text == "changed"
        await observation.cancel("get")
        # The Security object (it holds the key) is closed to the DM server, Observe included.
        assert (await server.read(EP, "/0/0", ContentFormat.TLV)).code == "4.01"
        assert (await server.discover(EP, "/0")).code == "4.01"
        refused = await server.observe(EP, "/0/0", ContentFormat.TLV)
        assert refused.first.code == "4.01"
        await server.wait_for(lambda: len(client.session.observations) == 0, 3)
    finally:
        await client.stop()
    assert not server.is_registered(EP), "de-registered over DTLS on stop"


async def test_wrong_key_is_refused_with_one_clear_line(server: LwM2MServer, front: DtlsFront,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    client = await start_agent(front.uri, psk_tree(front.uri, key=os.urandom(16)))
    try:
        await asyncio.sleep(2.5)
        assert not server.is_registered(EP)
        assert client.engine is not None and client.engine.refusals >= 1
        lines = [r.getMessage() for r in caplog.records if r.name == "agent.client.registration"]
        assert lines, "the refusal is logged"
        assert all(front.uri in line for line in lines)
        assert any(IDENTITY in line and ("DTLS alert" in line or "no DTLS handshake" in line) for line in lines), lines
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert KEY.hex() not in logged and repr(KEY) not in logged
        # The agent is still alive: with the right key (a new start) it registers through the same front.
    finally:
        await client.stop()
    good = await start_agent(front.uri)
    try:
        await good.wait_registered(5)
    finally:
        await good.stop()


async def test_unknown_identity_is_refused(server: LwM2MServer, front: DtlsFront,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    client = await start_agent(front.uri, psk_tree(front.uri, identity="d-nobody00000000000x"))
    try:
        await asyncio.sleep(2.0)
        assert not server.is_registered(EP)
        lines = [r.getMessage() for r in caplog.records if r.name == "agent.client.registration"]
        assert any("d-nobody00000000000x" in line for line in lines), lines
    finally:
        await client.stop()


async def test_server_losing_its_sessions_reaches_the_agent_again(server: LwM2MServer, front: DtlsFront) -> None:
    # Lifetime 4 s: the agent updates every 2 s, so a lost session is found out within seconds.
    client = await start_agent(front.uri, lifetime=4)
    try:
        await client.wait_registered(5)
        assert (await server.read(EP, "/3/0/0", ContentFormat.TEXT)).code == "2.05"
        assert front.drop_sessions() == 1

        async def reachable() -> None:
            while True:
                with contextlib.suppress(TimeoutError, ClientError):
                    result = await asyncio.wait_for(server.read(EP, "/3/0/0", ContentFormat.TEXT), 1.0)
                    if result.code == "2.05":
                        return
                await asyncio.sleep(0.2)

        await asyncio.wait_for(reachable(), 15)
        assert client.link is not None and client.link.handshakes >= 2, "a new session was shaken hands"
        assert server.is_registered(EP)
    finally:
        await client.stop()


async def test_restart_resumes_from_state_with_one_update(server: LwM2MServer, front: DtlsFront,
                                                          tmp_path: FsPath) -> None:
    state = tmp_path / "state"
    client = await start_agent(front.uri, state_dir=state)
    await client.wait_registered(5)
    location = server.registration(EP).location
    written = await server.write(EP, "/1/0/1", 30, content_format=ContentFormat.TEXT)
    assert written.code == "2.04"
    await client.stop(deregister=False)  # as a crash or kill would: no De-register
    registrations = client.engine.registrations if client.engine else 0
    assert registrations == 1
    again = await start_agent(front.uri, state_dir=state)
    try:
        await again.wait_registered(5)
        assert again.engine is not None
        assert again.engine.registrations == 0 and again.engine.updates == 1, "resumed with one Update"
        assert server.registration(EP).location == location
        assert again.settings.registration.lifetime == 30, "the lifetime the server wrote survived"
        assert (await server.read(EP, "/1/0/1", ContentFormat.TEXT)).text == "30"
    finally:
        await again.stop()


async def start_psk_bootstrap(front: DtlsFront) -> tuple[BootstrapServer, dict[str, bytes]]:
    """A bootstrap server that hands out coaps:// accounts of the front, each with a fresh device key."""
    keys: dict[str, bytes] = {}
    front.lookup = keys.get

    async def provision(endpoint: str) -> tuple[str, bytes]:
        device_id = "d-" + os.urandom(10).hex()
        keys[device_id] = os.urandom(16)
        return device_id, keys[device_id]

    bs = BootstrapServer(agent_models(), BootstrapSettings(dm_server_uri=front.uri, lifetime=20, security_mode=0),
                         provision)
    await bs.start()
    return bs, keys


async def test_sim_bootstrap_to_coaps_then_manage_and_restart_without_bootstrap(
        server: LwM2MServer, front: DtlsFront, tmp_path: FsPath) -> None:
    """Soracom's SIM flow: plain-CoAP bootstrap hands out a coaps:// account with a fresh key; the agent
    registers over DTLS with it, is managed over its session, and after a restart resumes from its state
    directory without a single bootstrap message."""
    bs, _keys = await start_psk_bootstrap(front)
    state = tmp_path / "state"
    try:
        settings = client_settings("coap://unused.invalid:5683", endpoint=EP)
        settings.bootstrap_uri, settings.state_dir = bs.uri, state
        client = LwM2MClient(build_tree("coap://unused.invalid:5683"), settings)
        await client.start()
        try:
            record = await bs.wait_finished(EP, 10)
            assert record.finished, record.error
            await client.wait_registered(5)
            assert front.identity_of(server.registration(EP).remote) == record.device_id
            assert (await server.read(EP, "/3/0/0", ContentFormat.TEXT)).code == "2.05"
            assert (await server.write(EP, "/32769/0/0", "over-dtls", content_format=ContentFormat.TEXT)).code \
                == "2.04"
            assert (await server.read(EP, "/0/1", ContentFormat.TLV)).code == "4.01"
        finally:
            await client.stop(deregister=False)
        assert bs.requests == 1
        again = LwM2MClient(build_tree("coap://unused.invalid:5683"), settings)
        await again.start()
        try:
            await again.wait_registered(5)
            assert bs.requests == 1, "no bootstrap message after the restart"
            assert again.bootstraps == 0 and again.engine is not None and again.engine.registrations == 0
            assert (await server.read(EP, "/32769/0/0", ContentFormat.TEXT)).text == "over-dtls", \
                "the value the server wrote was restored"
        finally:
            await again.stop()
    finally:
        await bs.stop()


async def test_refused_bootstrapped_account_bootstraps_again(server: LwM2MServer, front: DtlsFront,
                                                             tmp_path: FsPath) -> None:
    """A key the server no longer accepts (revoked, rotated) sends the agent back to its bootstrap server."""
    bs, keys = await start_psk_bootstrap(front)
    try:
        settings = client_settings("coap://unused.invalid:5683", endpoint=EP)
        settings.bootstrap_uri, settings.state_dir = bs.uri, tmp_path / "state"
        client = LwM2MClient(build_tree("coap://unused.invalid:5683"), settings)
        await client.start()
        try:
            await client.wait_registered(5)
            first_id = front.identity_of(server.registration(EP).remote)
            keys.clear()  # the service forgets every key
            server.forget(EP)
            front.drop_sessions()
            assert client.engine is not None
            client.engine.trigger_update()
            await server.wait_for(lambda: bs.requests == 2, 15)
            await server.wait_registered(EP, 10)
            assert front.identity_of(server.registration(EP).remote) not in (None, first_id)
        finally:
            await client.stop()
    finally:
        await bs.stop()


async def test_the_probe_works_over_dtls_after_the_front_comes_back(server: LwM2MServer, front: DtlsFront) -> None:
    """The DTLS front (the server's DTLS side) goes away with its sessions and comes back on its port:
    the ping travels inside a new session, and with a 30 s retry timer only the ping explains a quick return."""
    client = await start_agent(front.uri, lifetime=2, backoff_initial=30.0, backoff_max=60.0, exchange_limit=1.0)
    try:
        await client.wait_registered(5)
        port = front.port
        await front.close()
        assert client.engine is not None
        for _ in range(100):
            if client.engine.probes >= 1:
                break
            await asyncio.sleep(0.1)
        assert client.engine.probes >= 1 and not client.engine.registered.is_set()
        again = DtlsFront(("127.0.0.1", server.port), KEYS.get, port=port)
        await again.start()
        try:
            started = asyncio.get_running_loop().time()
            await client.wait_registered(10)
            assert asyncio.get_running_loop().time() - started < 8
            assert (await server.read(EP, "/3/0/0", ContentFormat.TEXT)).code == "2.05"
        finally:
            await client.stop()
            await again.close()
    finally:
        await client.stop(deregister=False)
