"""Notification storing (Server object resource 6): while the server cannot be reached, notifications are
stored in the durable queue and reach the server in order once the agent is registered again; with
resource 6 false they are dropped. The outage is a real UDP relay between agent and server that stops
forwarding."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path as FsPath
from typing import cast

import pytest
from support import ENDPOINT, agent_models, build_tree, client_settings

from agent.client.agent import LwM2MClient
from agent.core.formats import ContentFormat
from agent.core.path import Path
from agent.daemon.telemetry import store_notifications
from agent.simulator.lwm2m_server import LwM2MServer
from agent.telemetry.notifications import DESTINATION
from agent.telemetry.queue import TelemetryQueue
from agent.tree.binding import StoredValue

OBSERVED = Path(32769, 0, 1)


class _Side(asyncio.DatagramProtocol):
    def __init__(self, on_datagram) -> None:  # type: ignore[no-untyped-def]
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.on_datagram(data, addr)


class Relay:
    """Forwards UDP between one agent and the server while ``up``; drops everything while not."""

    def __init__(self, server: tuple[str, int]) -> None:
        self.server = server
        self.up = True
        self.agent: tuple[str, int] | None = None
        self.port = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        _, self._agent_side = await loop.create_datagram_endpoint(lambda: _Side(self._from_agent),
                                                                  local_addr=("127.0.0.1", 0))
        _, self._server_side = await loop.create_datagram_endpoint(lambda: _Side(self._from_server),
                                                                   local_addr=("127.0.0.1", 0))
        assert self._agent_side.transport is not None
        self.port = self._agent_side.transport.get_extra_info("sockname")[1]

    def _from_agent(self, data: bytes, addr: tuple[str, int]) -> None:
        self.agent = addr
        if self.up and self._server_side.transport is not None:
            self._server_side.transport.sendto(data, self.server)

    def _from_server(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.up and self.agent is not None and self._agent_side.transport is not None:
            self._agent_side.transport.sendto(data, self.agent)

    def close(self) -> None:
        for side in (self._agent_side, self._server_side):
            if side.transport is not None:
                side.transport.close()


async def until(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


@pytest.fixture
async def setup(tmp_path: FsPath) -> AsyncIterator[tuple[LwM2MServer, Relay, LwM2MClient, TelemetryQueue]]:
    server = LwM2MServer(agent_models(), host="127.0.0.1", port=0, request_timeout=5.0)
    await server.start()
    relay = Relay(("127.0.0.1", int(server.uri.rsplit(":", 1)[1])))
    await relay.start()
    uri = f"coap://127.0.0.1:{relay.port}"
    client = LwM2MClient(build_tree(uri, lifetime=4), client_settings(uri, lifetime=4, update_fraction=0.4))
    await client.start()
    await server.wait_registered(ENDPOINT, 10)
    queue = TelemetryQueue.in_state_dir(tmp_path)
    try:
        yield server, relay, client, queue
    finally:
        relay.up = True
        with contextlib.suppress(Exception):
            await client.stop(deregister=False)
        await queue.close()
        relay.close()
        await server.stop()


def observed(client: LwM2MClient) -> StoredValue:
    return cast(StoredValue, client.tree.binding(OBSERVED)[1])


async def test_notifications_of_an_outage_arrive_in_order_afterwards(
        setup: tuple[LwM2MServer, Relay, LwM2MClient, TelemetryQueue]) -> None:
    server, relay, client, queue = setup
    store = store_notifications(client, queue)
    try:
        obs = await server.observe(ENDPOINT, str(OBSERVED), ContentFormat.TEXT)
        observed(client).set(100)
        assert (await obs.next(5)).value() == 100  # online: straight through
        relay.up = False
        assert client.engine is not None
        await until(lambda: not client.engine.registered.is_set())  # type: ignore[union-attr]
        for value in range(1, 6):
            observed(client).set(value)
            await asyncio.sleep(0.05)
        await until(lambda: queue.depth(DESTINATION) == 5)
        assert store.stored == 5
        relay.up = True
        await until(lambda: client.engine.registered.is_set())  # type: ignore[union-attr]
        # The failed Update ended the observation (aiocoap drops a peer's observations when a CON to it
        # fails); the server observes again after the new Register, as Inventory does.
        again = await server.observe(ENDPOINT, str(OBSERVED), ContentFormat.TEXT)
        assert again.first is not None and again.first.value() == 5
        got = [(await again.next(15)).value() for _ in range(5)]
        assert got == [1, 2, 3, 4, 5]
        observed(client).set(6)  # after the backlog, live again
        assert (await again.next(5)).value() == 6
        await until(lambda: queue.depth(DESTINATION) == 0)
        assert store.replayed == 5 and store.dropped == 0
    finally:
        await store.close()


async def test_with_storing_off_notifications_of_an_outage_are_dropped(
        setup: tuple[LwM2MServer, Relay, LwM2MClient, TelemetryQueue]) -> None:
    server, relay, client, queue = setup
    client.tree.instance(Path(1, 0)).resources[6] = StoredValue(False)
    store = store_notifications(client, queue)
    try:
        await server.observe(ENDPOINT, str(OBSERVED), ContentFormat.TEXT)
        relay.up = False
        await until(lambda: not client.engine.registered.is_set())  # type: ignore[union-attr]
        for value in range(1, 4):
            observed(client).set(value)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert store.stored == 0 and queue.depth(DESTINATION) == 0
        relay.up = True
        await until(lambda: client.engine.registered.is_set())  # type: ignore[union-attr]
        again = await server.observe(ENDPOINT, str(OBSERVED), ContentFormat.TEXT)
        assert again.first is not None and again.first.value() == 3  # the value now, not the outage's
        observed(client).set(7)
        assert (await again.next(5)).value() == 7  # no stored 1, 2, 3 came before it
    finally:
        await store.close()


async def test_an_observation_the_server_cancels_is_not_kept_for_later(
        setup: tuple[LwM2MServer, Relay, LwM2MClient, TelemetryQueue]) -> None:
    server, _, client, queue = setup
    store = store_notifications(client, queue)
    store.observe_grace = 0.5
    other = Path(32769, 0, 3)
    try:
        cancelled = await server.observe(ENDPOINT, str(OBSERVED), ContentFormat.TEXT)
        await cancelled.cancel("rst")  # the server forgets the token: the next CON notification gets an RST
        for value in range(client.session.observations.confirmable_every + 4):
            observed(client).set(1000 + value)
            await asyncio.sleep(0.01)
        await until(lambda: len(client.session.observations) == 0, 10)  # ended, not parked for ever
        watched = await server.observe(ENDPOINT, str(other), ContentFormat.TEXT)
        cast(StoredValue, client.tree.binding(other)[1]).set(99.5)
        assert (await watched.next(5)).value() == 99.5  # nothing held back behind the cancelled one
        await until(lambda: queue.depth(DESTINATION) == 0)
        assert store.stored == store.dropped + store.replayed  # every kept notification is accounted for
    finally:
        await store.close()
