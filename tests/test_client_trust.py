"""Only its servers may manage the agent: a stranger on the network gets nothing, a server's bad
values and malformed requests get their error code, and what a server can make the agent keep is
bounded. Everything over real UDP on loopback; the stranger is a socket on 127.0.0.2."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path as FsPath

import pytest
from aiocoap import ACK, Code, Context, Message
from aiocoap.error import Error as CoapError
from support import ENDPOINT, agent_models, build_tree, client_settings
from trust_support import RawPeer, datagram, raw_get

from agent.client.agent import LwM2MClient
from agent.client.limits import ServerLimits
from agent.core.formats import ContentFormat
from agent.core.path import Path
from agent.simulator.lwm2m_server import LwM2MServer

EP = ENDPOINT


@pytest.fixture
async def stranger() -> AsyncIterator[RawPeer]:
    peer = await RawPeer.open("127.0.0.2")
    try:
        yield peer
    finally:
        peer.close()


@pytest.fixture
async def second_server(agent: LwM2MClient) -> AsyncIterator[RawPeer]:
    """A raw socket the agent's policy admits like its server (to send what aiocoap cannot build)."""
    peer = await RawPeer.open("127.0.0.1")
    agent.sources.server.add(peer.address)
    try:
        yield peer
    finally:
        peer.close()


async def limited_agent(server: LwM2MServer, limits: ServerLimits) -> LwM2MClient:
    settings = client_settings(server.uri)
    settings.limits = limits
    client = LwM2MClient(build_tree(server.uri), settings)
    await client.start()
    await server.wait_registered(EP)
    return client


# ---- the stranger ---------------------------------------------------------------------------------

async def test_a_stranger_gets_no_answer_to_read_write_execute_or_observe(
        server: LwM2MServer, agent: LwM2MClient, stranger: RawPeer) -> None:
    updates = agent.engine.updates if agent.engine else 0
    for request in (datagram(Code.GET, "/3/0/0"),
                    datagram(Code.PUT, "/1/0/1", payload=b"-1", content_format=ContentFormat.TEXT),
                    datagram(Code.PUT, "/1/0/1", payload=b"30", content_format=ContentFormat.TEXT),
                    datagram(Code.POST, "/1/0/8"),
                    datagram(Code.GET, "/3/0/13", observe=0)):
        assert await stranger.ask(request, agent.port, timeout=0.4) is None
    assert agent.guard.refused == 5
    assert len(agent.session.observations) == 0
    # Nothing changed: the lifetime is the server's, no Update was triggered.
    assert (await server.read(EP, "/1/0/1", ContentFormat.TEXT)).value() == 60
    assert (agent.engine.updates if agent.engine else 0) == updates
    assert server.registration(EP).lwm2m_version == "1.1"


async def test_the_servers_host_on_another_port_is_a_stranger(server: LwM2MServer, agent: LwM2MClient) -> None:
    peer = await RawPeer.open("127.0.0.1")
    try:
        assert await peer.ask(datagram(Code.GET, "/3/0/0"), agent.port, timeout=0.4) is None
    finally:
        peer.close()
    # The server itself is served as before.
    assert (await server.read(EP, "/3/0/0", ContentFormat.TEXT)).ok


async def test_refusals_are_logged_once_per_interval(server: LwM2MServer, agent: LwM2MClient,
                                                     stranger: RawPeer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")
    for _ in range(50):
        stranger.send(datagram(Code.GET, "/3/0/0"), agent.port)
    await asyncio.sleep(0.3)
    lines = [r for r in caplog.records if "datagrams not served" in r.getMessage()]
    assert agent.guard.refused == 50
    assert len(lines) <= 1
    agent.guard.incidents.flush()
    lines = [r.getMessage() for r in caplog.records if "datagrams not served" in r.getMessage()]
    assert sum(int(n) for line in lines for n in re.findall(r"from a stranger x(\d+)", line)) == 50
    assert "127.0.0.2" in lines[-1]


class SilentBootstrapServer:
    """A bootstrap server that accepts POST /bs and then does nothing: the agent waits for Finish."""

    async def render_to_pipe(self, pipe: object) -> None:
        pipe.add_response(Message(code=Code.CHANGED), is_last=True)  # type: ignore[attr-defined]

    async def needs_blockwise_assembly(self, request: Message) -> bool:
        return False


async def test_a_stranger_cannot_take_over_a_bootstrap(stranger: RawPeer, tmp_path: FsPath) -> None:
    bs = await Context.create_server_context(SilentBootstrapServer(), bind=("127.0.0.1", 0), transports=["udp6"])
    try:
        from agent.client.transport import local_port

        bs_uri = f"coap://127.0.0.1:{local_port(bs)}"
        settings = client_settings("coap://unused.invalid:5683")
        settings.bootstrap_uri = bs_uri
        settings.state_dir = tmp_path
        tree = build_tree("coap://unused.invalid:5683")
        client = LwM2MClient(tree, settings)
        await client.start()
        try:
            await _until(lambda: client.session.bootstrapping)
            security_before = dict(tree.objects[0].instances)
            hijack = [datagram(Code.DELETE, "/"),
                      datagram(Code.PUT, "/0/0/0", payload=b"coap://evil.example:5683",
                               content_format=ContentFormat.TEXT),
                      datagram(Code.POST, "/bs")]
            for request in hijack:
                assert await stranger.ask(request, client.port, timeout=0.4) is None
            assert client.session.bootstrapping, "still waiting for the real bootstrap server's Finish"
            assert tree.objects[0].instances == security_before
            assert not (tmp_path / "tree.json").exists()
        finally:
            await client.stop(deregister=False)
    finally:
        await bs.shutdown()


async def _until(predicate: object, timeout: float = 5.0) -> None:
    async def wait() -> None:
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout)


# ---- values a server writes -------------------------------------------------------------------------

@pytest.mark.parametrize("path,payload", [
    ("/1/0/1", b"-1"), ("/1/0/1", b"0"), ("/1/0/2", b"-5"), ("/1/0/7", b"X"), ("/1/0/7", b"UU"), ("/1/0/7", b""),
])
async def test_a_bad_server_value_gets_4_00_and_changes_nothing(server: LwM2MServer, agent: LwM2MClient,
                                                                path: str, payload: bytes) -> None:
    before = (await server.read(EP, path, ContentFormat.TEXT)).payload
    result = await server.request(EP, Code.PUT, Path.parse(path), payload=payload, content_format=ContentFormat.TEXT)
    assert result.code == "4.00", result.text
    assert path in result.text
    assert (await server.read(EP, path, ContentFormat.TEXT)).payload == before


async def test_lifetime_of_minus_one_leaves_the_agent_registered_as_1_1(server: LwM2MServer,
                                                                         agent: LwM2MClient) -> None:
    result = await server.request(EP, Code.PUT, Path(1, 0, 1), payload=b"-1", content_format=ContentFormat.TEXT)
    assert result.code == "4.00"
    assert (await server.execute(EP, "/1/0/8")).code == "2.04"
    reg = await server.wait_registered(EP)
    await server.wait_for(lambda: server.registration(EP).updates >= 1)
    assert reg.lwm2m_version == "1.1" and reg.lifetime == 60
    assert agent.session.lwm2m_version == "1.1"


async def test_pmin_above_pmax_is_refused(server: LwM2MServer, agent: LwM2MClient) -> None:
    assert (await server.request(EP, Code.PUT, Path(1, 0, 3), payload=b"10",
                                 content_format=ContentFormat.TEXT)).code == "2.04"
    result = await server.request(EP, Code.PUT, Path(1, 0, 2), payload=b"11", content_format=ContentFormat.TEXT)
    assert result.code == "4.00" and "pmin" in result.text
    assert (await server.request(EP, Code.PUT, Path(1, 0, 2), payload=b"10",
                                 content_format=ContentFormat.TEXT)).code == "2.04"


async def test_a_written_binding_goes_out_with_the_triggered_update(server: LwM2MServer,
                                                                   agent: LwM2MClient) -> None:
    assert server.registration(EP).binding == "U"
    assert (await server.request(EP, Code.PUT, Path(1, 0, 7), payload=b"UQ",
                                 content_format=ContentFormat.TEXT)).code == "2.04"
    assert (await server.execute(EP, "/1/0/8")).code == "2.04"
    await server.wait_for(lambda: server.registration(EP).binding == "UQ")


# ---- bounds --------------------------------------------------------------------------------------

async def test_observations_over_the_cap_are_answered_as_plain_reads(server: LwM2MServer) -> None:
    client = await limited_agent(server, ServerLimits(max_observations=3))
    try:
        observations = [await server.observe(EP, f"/3/0/{rid}") for rid in (0, 1, 2)]
        assert all(o.notifying for o in observations)
        over = await server.observe(EP, "/3/0/3")
        assert over.first is not None and over.first.ok and over.first.values, "still a read"
        assert not over.notifying
        assert len(client.session.observations) == 3
        assert client.session.observations.refused_over_cap == 1
    finally:
        await client.stop(deregister=False)


async def test_an_observer_that_forgot_is_found_out_even_if_the_value_never_changes(server: LwM2MServer) -> None:
    client = await limited_agent(server, ServerLimits(observe_keepalive=0.5))
    try:
        observation = await server.observe(EP, "/3/0/0")  # the manufacturer never changes
        assert len(client.session.observations) == 1
        await observation.cancel("rst")  # the server forgets the token: it answers RST from now on
        await _until(lambda: len(client.session.observations) == 0, timeout=5)
    finally:
        await client.stop(deregister=False)


async def _upload(server: LwM2MServer, block: tuple[int, bool, int], payload: bytes,
                  size1: int | None = None) -> Message:
    from aiocoap.optiontypes import BlockOption

    msg = Message(code=Code.PUT, uri_path=("32769", "0", "5"), payload=payload)
    msg.opt.content_format = ContentFormat.OPAQUE
    msg.opt.block1 = BlockOption.BlockwiseTuple(*block)
    if size1 is not None:
        msg.opt.size1 = size1
    msg.remote = server.registration(EP).remote
    return await asyncio.wait_for(server.context_required.request(msg, handle_blockwise=False).response, 5)


async def test_block1_bounds(server: LwM2MServer) -> None:
    limits = ServerLimits(upload_max_size=4096, upload_max_transfers=2, upload_max_bytes=3072, upload_timeout=0.5)
    client = await limited_agent(server, limits)
    try:
        # A first block announcing more than the cap: 4.13 at once, with the cap in Size1.
        too_big = await _upload(server, (0, True, 2), b"x" * 64, size1=1 << 31)
        assert too_big.code == Code.REQUEST_ENTITY_TOO_LARGE and too_big.opt.size1 == 4096
        # A gap: 4.08, not 5.00.
        assert (await _upload(server, (0, True, 2), b"a" * 64)).code == Code.CONTINUE
        assert (await _upload(server, (2, True, 2), b"c" * 64)).code == Code.REQUEST_ENTITY_INCOMPLETE
        # A block that continues nothing: 4.08.
        assert (await _upload(server, (5, False, 2), b"z" * 10)).code == Code.REQUEST_ENTITY_INCOMPLETE
        # A block past the size cap: 4.13.
        assert (await _upload(server, (64, True, 2), b"q" * 64)).code == Code.REQUEST_ENTITY_TOO_LARGE
        # A whole upload in blocks still works.
        assert (await _upload(server, (0, True, 2), b"a" * 64)).code == Code.CONTINUE
        done = await _upload(server, (1, False, 2), b"bb")
        assert done.code == Code.CHANGED
        assert (await server.read(EP, "/32769/0/5", ContentFormat.OPAQUE)).payload == b"a" * 64 + b"bb"
        # Abandoned uploads are forgotten after the time-out.
        assert (await _upload(server, (0, True, 2), b"a" * 64)).code == Code.CONTINUE
        assert len(client.site.uploads) == 1
        await asyncio.sleep(0.6)
        assert (await _upload(server, (1, False, 2), b"b")).code == Code.REQUEST_ENTITY_INCOMPLETE
        assert len(client.site.uploads) == 0 and client.site.uploads.spooled_bytes == 0
    finally:
        await client.stop(deregister=False)


async def test_unfinished_uploads_are_capped_in_number_and_bytes(server: LwM2MServer,
                                                                 second_server: RawPeer, agent: LwM2MClient) -> None:
    agent.site.uploads.limits = replace(agent.site.uploads.limits, max_transfers=3, max_total_bytes=1 << 20)
    codes = []
    for _ in range(5):  # five different transfers (different tokens and MIDs, different option sets)
        answer = await second_server.ask(datagram(Code.PUT, "/32769/0/5", payload=b"x" * 1024,
                                                  content_format=ContentFormat.OPAQUE, block1=(0, True, 6),
                                                  query=(f"n={len(codes)}",)), agent.port)
        assert answer is not None
        codes.append(answer.code)
    assert codes == [Code.CONTINUE] * 3 + [Code.REQUEST_ENTITY_TOO_LARGE] * 2
    assert agent.site.uploads.spooled_bytes == 3 * 1024


# ---- malformed requests -------------------------------------------------------------------------------

@pytest.mark.parametrize("name,options", [
    ("Uri-Path", bytes([0xB2, 0xFF, 0xFE])),
    ("Uri-Query", bytes([0xB1, 0x33, 0x42, 0xC3, 0x28])),  # Uri-Path "3", then Uri-Query (15) b"\xc3\x28"
])
async def test_an_option_that_is_not_utf8_gets_4_02(server: LwM2MServer, agent: LwM2MClient,
                                                    second_server: RawPeer, name: str, options: bytes) -> None:
    answer = await second_server.ask(raw_get(options, mid=0x4321, token=b"\x07\x08"), agent.port)
    assert answer is not None, f"a {name} that is not UTF-8 gets an answer"
    assert answer.code == Code.BAD_OPTION and answer.mtype == ACK
    assert answer.mid == 0x4321 and answer.token == b"\x07\x08"
    assert (await server.read(EP, "/3/0/0", ContentFormat.TEXT)).ok


async def test_execute_arguments_that_are_not_utf8_get_4_00(server: LwM2MServer, agent: LwM2MClient) -> None:
    result = await server.request(EP, Code.POST, Path(1, 0, 8), payload=b"\xff\xfe",
                                  content_format=ContentFormat.TEXT)
    assert result.code == "4.00" and "UTF-8" in result.text


async def test_a_block1_gap_gets_4_08(server: LwM2MServer, agent: LwM2MClient, second_server: RawPeer) -> None:
    first = datagram(Code.PUT, "/32769/0/5", payload=b"a" * 16, content_format=ContentFormat.OPAQUE,
                     block1=(0, True, 0))
    gap = datagram(Code.PUT, "/32769/0/5", payload=b"c" * 16, content_format=ContentFormat.OPAQUE,
                   block1=(2, False, 0))
    assert (await second_server.ask(first, agent.port)).code == Code.CONTINUE  # type: ignore[union-attr]
    answer = await second_server.ask(gap, agent.port)
    assert answer is not None and answer.code == Code.REQUEST_ENTITY_INCOMPLETE


async def test_the_duplicate_cache_answers_retransmissions_and_stays_bounded(
        server: LwM2MServer, agent: LwM2MClient, second_server: RawPeer) -> None:
    from agent.client.dedup import message_manager_of

    assert agent.link is not None
    manager = message_manager_of(agent.link.context)
    assert manager is not None
    request = datagram(Code.GET, "/3/0/0")
    first = await second_server.ask(request, agent.port)
    again = await second_server.ask(request, agent.port)  # a retransmission: same MID
    assert first is not None and again is not None
    assert (again.code, again.mid, again.payload) == (first.code, first.mid, first.payload)
    manager.max_entries = 10
    for _ in range(30):
        assert await second_server.ask(datagram(Code.GET, "/3/0/0"), agent.port) is not None
    assert len(manager) == 10


async def test_an_observer_that_is_gone_loses_its_observations() -> None:
    srv = LwM2MServer(agent_models(), host="127.0.0.1", port=0, request_timeout=5.0)
    await srv.start()
    client = await limited_agent(srv, ServerLimits(observe_keepalive=0.5))
    try:
        assert (await srv.observe(EP, "/3/0/0")).notifying
        await srv.stop()  # the server's port is closed: the keepalive notification meets ICMP unreachable
        await _until(lambda: len(client.session.observations) == 0, timeout=10)
    finally:
        await client.stop(deregister=False)


class FickleServer:
    """Takes one Register, then answers 4.00 to everything (as to an Update with a bad parameter)."""

    def __init__(self) -> None:
        self.versions: list[str] = []
        self.accepting = True

    async def render_to_pipe(self, pipe: object) -> None:
        request: Message = pipe.request  # type: ignore[attr-defined]
        if request.opt.uri_path == ("rd",):
            self.versions.extend(q[6:] for q in request.opt.uri_query if q.startswith("lwm2m="))
            if self.accepting:
                self.accepting = False
                answer = Message(code=Code.CREATED)
                answer.opt.location_path = ("rd", "1")
                pipe.add_response(answer, is_last=True)  # type: ignore[attr-defined]
                return
        pipe.add_response(Message(code=Code.BAD_REQUEST), is_last=True)  # type: ignore[attr-defined]

    async def needs_blockwise_assembly(self, request: Message) -> bool:
        return False


async def test_a_failed_update_is_not_taken_for_a_version_refusal() -> None:
    from agent.client.transport import local_port

    site = FickleServer()
    ctx = await Context.create_server_context(site, bind=("127.0.0.1", 0), transports=["udp6"])
    uri = f"coap://127.0.0.1:{local_port(ctx)}"
    client = LwM2MClient(build_tree(uri), client_settings(uri))
    await client.start()
    try:
        await client.wait_registered(5)
        assert client.engine is not None
        client.engine.trigger_update()  # answered 4.00; the Registers that follow too
        await _until(lambda: len(site.versions) >= 4)
        assert set(site.versions) == {"1.1"}, site.versions
        assert client.session.lwm2m_version == "1.1"
    finally:
        await client.stop(deregister=False)
        await ctx.shutdown()


async def test_the_bootstrap_server_may_not_manage_the_agent_after_finish(server: LwM2MServer,
                                                                          tmp_path: FsPath) -> None:
    from aiocoap.numbers.constants import TransportTuning

    from agent.simulator.bootstrap_server import BootstrapServer, BootstrapSettings

    async def provision(endpoint: str) -> tuple[str, bytes]:
        return "d-" + "x" * 20, bytes(16)

    bs = BootstrapServer(agent_models(), BootstrapSettings(dm_server_uri=server.uri, lifetime=45), provision)
    await bs.start()
    settings = client_settings("coap://unused.invalid:5683")
    settings.bootstrap_uri = bs.uri
    settings.state_dir = tmp_path
    client = LwM2MClient(build_tree("coap://unused.invalid:5683"), settings)
    await client.start()
    try:
        assert (await bs.wait_finished(EP, 10)).finished
        await server.wait_registered(EP, 10)
        tuning = TransportTuning()
        tuning.ACK_TIMEOUT, tuning.MAX_RETRANSMIT = 0.2, 1
        late = Message(code=Code.DELETE, uri_path=("1", "0"), transport_tuning=tuning)
        late.remote = server.registration(EP).remote  # the agent's address, asked from the bootstrap server
        assert bs.context is not None
        with pytest.raises((TimeoutError, CoapError)):  # no answer: aiocoap gives up retransmitting
            await asyncio.wait_for(bs.context.request(late).response, 2)
        assert client.guard.refused >= 1
        assert (await server.read(EP, "/1/0/0", ContentFormat.TEXT)).ok, "the Server instance is still there"
    finally:
        await client.stop(deregister=False)
        await bs.stop()


async def test_the_site_answers_4_01_to_a_peer_its_owner_refuses(agent: LwM2MClient) -> None:
    """For transports that can only tell who is asking above the message layer (a DTLS identity)."""
    from agent.client.site import LwM2MSite
    from agent.client.transport import local_port

    site = LwM2MSite(lambda remote: agent.session, accepts=lambda remote: False)
    ctx = await Context.create_server_context(site, bind=("127.0.0.1", 0), transports=["udp6"])
    try:
        request = Message(code=Code.GET, uri=f"coap://127.0.0.1:{local_port(ctx)}/3/0/0")
        response = await asyncio.wait_for(ctx.request(request).response, 5)
        assert response.code == Code.UNAUTHORIZED
        assert site.incidents["4.01 not a server of this agent"] == 1
    finally:
        await ctx.shutdown()
