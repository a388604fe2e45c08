"""The registration interface over real UDP: register, update, re-register, backoff, de-register."""

from __future__ import annotations

import asyncio
import socket
import time

from aiocoap import Code, Message
from support import ENDPOINT, agent_models, build_tree, client_settings

from agent.client.agent import LwM2MClient
from agent.core.formats import ContentFormat
from agent.core.linkformat import parse_links
from agent.simulator.lwm2m_server import LwM2MServer
from agent.tree import ObjectInstance, StoredValue

EP = ENDPOINT


async def test_register_payload_and_query(server: LwM2MServer, agent: LwM2MClient) -> None:
    reg = server.registration(EP)
    assert (reg.lwm2m_version, reg.binding, reg.lifetime) == ("1.1", "U", 60)
    root = reg.links[0]
    assert root.target == "/" and root.attributes["rt"] == "oma.lwm2m"
    assert reg.root_content_format == ContentFormat.SENML_CBOR
    targets = reg.object_links
    assert "/1/0" in targets and "/3/0" in targets and "/3303/0" in targets and "/32769/0" in targets
    assert not any(t.startswith("/0") for t in targets), "the Security object is never registered"
    assert any(link.target == "/1" and link.attributes.get("ver") == "1.1" for link in reg.links)
    # The server reaches the agent at the address it registered from.
    assert reg.remote.hostinfo.endswith(f":{agent.port}")  # type: ignore[attr-defined]


async def test_update_before_lifetime_expires(server: LwM2MServer) -> None:
    client = LwM2MClient(build_tree(server.uri), client_settings(server.uri, lifetime=3))
    await client.start()
    try:
        await server.wait_registered(EP)
        await server.wait_for(lambda: server.registration(EP).updates >= 2, 6)
    finally:
        await client.stop()


async def test_lifetime_write_and_update_trigger(server: LwM2MServer, agent: LwM2MClient) -> None:
    assert (await server.write(EP, "/1/0/1", 120, content_format=ContentFormat.TEXT)).code == "2.04"
    await server.wait_for(lambda: server.registration(EP).lifetime == 120, 3)
    before = server.registration(EP).updates
    assert (await server.execute(EP, "/1/0/8")).code == "2.04"
    await server.wait_for(lambda: server.registration(EP).updates > before, 3)


async def test_object_set_change_sends_update(server: LwM2MServer, agent: LwM2MClient) -> None:
    agent.tree.add_instance(32769, ObjectInstance(9, {0: StoredValue("new")}))
    await server.wait_for(lambda: "/32769/9" in server.registration(EP).object_links, 3)


async def test_reregisters_when_server_forgot(server: LwM2MServer, agent: LwM2MClient) -> None:
    first_location = server.registration(EP).location
    server.forget(EP)
    assert not server.is_registered(EP)
    # The next Update (triggered by a new instance) gets 4.04, and the agent registers again.
    agent.tree.add_instance(32769, ObjectInstance(8, {0: StoredValue("x")}))
    reg = await server.wait_registered(EP, 5)
    assert reg.location != first_location
    assert "/32769/8" in reg.object_links
    assert agent.engine is not None and agent.engine.registrations == 2


async def test_deregisters_on_stop(server: LwM2MServer) -> None:
    client = LwM2MClient(build_tree(server.uri), client_settings(server.uri))
    await client.start()
    await server.wait_registered(EP)
    await client.stop(deregister=True)
    assert not server.is_registered(EP)


async def test_backoff_until_the_server_appears() -> None:
    # Find a free port, start the agent against it with nothing listening, then start the server there.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uri = f"coap://127.0.0.1:{port}"
    client = LwM2MClient(build_tree(uri), client_settings(uri, backoff_initial=0.1, backoff_max=0.4))
    await client.start()
    try:
        await asyncio.sleep(1.0)
        assert client.engine is not None and not client.engine.registered.is_set()
        server = LwM2MServer(agent_models(), host="127.0.0.1", port=port)
        await server.start()
        try:
            started = time.monotonic()
            await server.wait_registered(EP, 5)
            # Backoff is capped at 0.4 s plus a 0.3 s request timeout.
            assert time.monotonic() - started < 2.0
        finally:
            await client.stop()
            await server.stop()
    finally:
        await client.stop(deregister=False)


async def test_falls_back_to_1_0_when_the_server_refuses_1_1() -> None:
    server = LwM2MServer(agent_models(), host="127.0.0.1", versions=("1.0",))
    await server.start()
    client = LwM2MClient(build_tree(server.uri), client_settings(server.uri))
    await client.start()
    try:
        reg = await server.wait_registered(EP)
        assert reg.lwm2m_version == "1.0"
        assert reg.root_content_format == ContentFormat.TLV
        # The Server object's model is 1.1 (for its retry resources); a 1.0 server is not told so.
        assert not any("ver" in link.attributes for link in reg.links if link.target == "/1")
        result = await server.read(EP, "/3/0")
        assert result.content_format == ContentFormat.TLV
    finally:
        await client.stop()
        await server.stop()


async def test_requests_before_the_register_ack_are_answered() -> None:
    """A bare UDP server reads from the agent before it acknowledges the Register."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    class Proto(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            queue.put_nowait((data, addr))

    transport, _ = await loop.create_datagram_endpoint(Proto, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    uri = f"coap://127.0.0.1:{port}"
    client = LwM2MClient(build_tree(uri), client_settings(uri, ack_timeout=2.0))
    await client.start()
    try:
        data, addr = await asyncio.wait_for(queue.get(), 5)
        register = Message.decode(data)
        assert register.code == Code.POST and register.opt.uri_path == ("rd",)
        read = Message(code=Code.GET, uri_path=("3", "0", "0"), mid=4242, token=b"\x01\x02")
        read.opt.accept = 0
        from aiocoap.numbers.types import Type
        read.mtype = Type.CON
        transport.sendto(read.encode(), addr)
        while True:
            data, _ = await asyncio.wait_for(queue.get(), 5)
            answer = Message.decode(data)
            if answer.mid == 4242:
                break
        assert answer.code == Code.CONTENT and answer.payload
        ack = Message(code=Code.CREATED, mid=register.mid, token=register.token)
        ack.mtype = Type.ACK
        ack.opt.location_path = ("rd", "1")
        transport.sendto(ack.encode(), addr)
        assert client.engine is not None
        await asyncio.wait_for(client.engine.registered.wait(), 3)
    finally:
        await client.stop(deregister=False)
        transport.close()


async def test_register_links_parse(server: LwM2MServer, agent: LwM2MClient) -> None:
    from agent.client.registration import registration_links
    links = parse_links(registration_links(agent.tree, ContentFormat.TLV))
    assert links[0].attributes == {"rt": "oma.lwm2m", "ct": "11542"}


async def test_send(server: LwM2MServer, agent: LwM2MClient) -> None:
    from agent.core.path import Path
    code = await agent.send([Path(3303, 0, 5700), Path(32769, 0, 0)])
    assert code == "2.04"
    endpoint, values = server.sent[-1]
    assert endpoint == EP
    assert {rv.path for rv in values} == {Path(3303, 0, 5700), Path(32769, 0, 0)}


async def test_large_object_set_registers_blockwise(server: LwM2MServer) -> None:
    tree = build_tree(server.uri)
    for iid in range(1, 200):
        tree.add_instance(32769, ObjectInstance(iid, {0: StoredValue(f"instance {iid}")}))
    client = LwM2MClient(tree, client_settings(server.uri))
    await client.start()
    try:
        reg = await server.wait_registered(EP, 5)
        assert "/32769/199" in reg.object_links and len(reg.object_links) > 200
    finally:
        await client.stop()


async def test_many_agents_on_one_host_each_get_their_own_port(server: LwM2MServer) -> None:
    """aiocoap's SO_REUSEPORT would let the kernel give two port-0 sockets the same port."""
    clients = [LwM2MClient(build_tree(server.uri), client_settings(server.uri, endpoint=f"many-{i}"))
               for i in range(200)]
    try:
        await asyncio.gather(*(c.start() for c in clients))
        assert len({c.port for c in clients}) == 200
        await asyncio.wait_for(asyncio.gather(*(c.wait_registered() for c in clients)), 20)
        assert all(server.is_registered(f"many-{i}") for i in range(200))
    finally:
        await asyncio.gather(*(c.stop(deregister=False) for c in clients))
