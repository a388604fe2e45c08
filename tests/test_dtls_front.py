"""The DTLS PSK front of the emulator's LwM2M server, over real loopback DTLS (tinydtls both sides).

A device registers through the front and the plain LwM2M server behind it reads, writes and observes
it over the device's DTLS session; refused handshakes, dropped and idle sessions, the session cap and
many concurrent sessions are checked the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator

import pytest
from aiocoap import CON, Code, Message
from aiocoap.error import NetworkError
from dtls_device import DtlsDevice
from hypothesis import given
from hypothesis import strategies as st

from agent.core.formats import ContentFormat
from agent.core.path import Path
from agent.simulator.dtls_front import (
    DtlsFront,
    FrontSettings,
    RecordHeader,
    alert_record,
    is_client_hello,
    record_headers,
)
from agent.simulator.lwm2m_server import ClientError, LwM2MServer
from agent.tree import StoredValue

IDENTITY = "d-front0000000000test"
KEYS = {IDENTITY: bytes(range(16)), "d-other00000000000test": os.urandom(16)}


async def start_front(server: LwM2MServer, keys: dict[str, bytes] | None = None,
                      **settings: float) -> DtlsFront:
    front = DtlsFront(("127.0.0.1", server.port), (keys or KEYS).get, settings=FrontSettings(**settings))
    await front.start()
    return front


@pytest.fixture
async def front(server: LwM2MServer) -> AsyncIterator[DtlsFront]:
    front = await start_front(server)
    try:
        yield front
    finally:
        await front.close()


@pytest.fixture
async def device(front: DtlsFront) -> AsyncIterator[DtlsDevice]:
    device = await DtlsDevice(front.uri, IDENTITY, KEYS[IDENTITY]).start()
    try:
        yield device
    finally:
        await device.close()


async def eventually(predicate, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(poll(), timeout)


async def test_register_read_write_observe_over_dtls(server: LwM2MServer, front: DtlsFront,
                                                     device: DtlsDevice) -> None:
    response = await device.register("dtls-one")
    assert response.code == Code.CREATED
    reg = server.registration("dtls-one")
    # The plain server sees the session's loopback address; the front knows who is behind it.
    assert front.identity_of(reg.remote) == IDENTITY
    session = front.session_for(reg.remote)
    assert session is not None and session.peer[0] == "127.0.0.1"

    read = await server.read("dtls-one", "/32769/0/0", ContentFormat.TEXT)
    assert read.code == "2.05" and read.value() == "hello"
    written = await server.write("dtls-one", "/32769/0/0", "over dtls", content_format=ContentFormat.TEXT)
    assert written.code == "2.04"
    assert [v.value for v in await device.tree.read(Path(32769, 0, 0))] == ["over dtls"]

    obs = await server.observe("dtls-one", "/32769/0/1", ContentFormat.TEXT)
    assert obs.first is not None and obs.first.value() == -42
    binding = device.tree.instance(obs.path).resources[1]
    assert isinstance(binding, StoredValue)
    binding.set(7)
    assert (await obs.next(3)).value() == 7
    await obs.cancel()
    assert (await device.update()).code == Code.CHANGED


async def test_wrong_key_is_refused_and_others_are_served(server: LwM2MServer, front: DtlsFront,
                                                          device: DtlsDevice,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    wrong = bytes(16)
    intruder = await DtlsDevice(front.uri, IDENTITY, wrong).start()
    try:
        # Refused with an alert, not left to time out.
        with caplog.at_level(logging.INFO, logger="agent.simulator.dtls_front"), pytest.raises(NetworkError):
            await intruder.register("intruder", timeout=5)
        refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert len(refusals) == 1
        assert "wrong key" in refusals[0] and IDENTITY in refusals[0] and "127.0.0.1:" in refusals[0]
        assert wrong.hex() not in caplog.text and KEYS[IDENTITY].hex() not in caplog.text
        assert not server.is_registered("intruder")
        assert [s.identity for s in front.sessions] == []
        # The front goes on serving a device with the right key.
        assert (await device.register("dtls-good")).code == Code.CREATED
        assert (await server.read("dtls-good", "/3/0/0")).ok
    finally:
        await intruder.close()


async def test_unknown_identity_is_refused(server: LwM2MServer, front: DtlsFront,
                                           caplog: pytest.LogCaptureFixture) -> None:
    stranger = await DtlsDevice(front.uri, "d-nobody0000000000000", bytes(16)).start()
    try:
        with caplog.at_level(logging.WARNING, logger="agent.simulator.dtls_front"), pytest.raises(NetworkError):
            await stranger.register("stranger", timeout=5)
        assert "unknown PSK identity 'd-nobody0000000000000'" in caplog.text
        assert not server.is_registered("stranger")
        await eventually(lambda: not front.sessions)
    finally:
        await stranger.close()


async def test_dropped_sessions_handshake_again(server: LwM2MServer, front: DtlsFront,
                                                device: DtlsDevice) -> None:
    server.request_timeout = 1.0
    assert (await device.register("dtls-drop")).code == Code.CREATED
    first = front.session_for(server.registration("dtls-drop").remote)
    assert first is not None
    assert front.drop_sessions() == 1
    assert front.sessions == [] and front.identity_of(server.registration("dtls-drop").remote) is None
    # The server can no longer reach the device: its session is gone, as after a restart.
    with pytest.raises(ClientError):
        await server.read("dtls-drop", "/3/0/0")
    # The device notices (here: told to), starts over with a new handshake, and its Update moves the
    # registration to the new session.
    device.forget_connection()
    assert (await device.update()).code == Code.CHANGED
    second = front.session_for(server.registration("dtls-drop").remote)
    assert second is not None and second is not first and second.identity == IDENTITY
    assert (await server.read("dtls-drop", "/3/0/0")).ok


async def test_idle_sessions_expire(server: LwM2MServer, caplog: pytest.LogCaptureFixture) -> None:
    front = await start_front(server, idle_timeout=0.4, sweep_interval=0.05)
    device = await DtlsDevice(front.uri, IDENTITY, KEYS[IDENTITY]).start()
    try:
        with caplog.at_level(logging.INFO, logger="agent.simulator.dtls_front"):
            assert (await device.register("dtls-idle")).code == Code.CREATED
            remote = server.registration("dtls-idle").remote
            assert front.identity_of(remote) == IDENTITY
            await eventually(lambda: not front.sessions, 3)
        assert front.identity_of(remote) is None
        assert "idle for" in caplog.text
    finally:
        await device.close()
        await front.close()


async def test_session_cap_drops_the_least_recently_heard(server: LwM2MServer) -> None:
    front = await start_front(server, max_sessions=2)
    devices = [await DtlsDevice(front.uri, IDENTITY, KEYS[IDENTITY]).start() for _ in range(3)]
    try:
        for index, device in enumerate(devices):
            assert (await device.register(f"dtls-cap-{index}")).code == Code.CREATED
        assert len(front.sessions) == 2
        assert front.identity_of(server.registration("dtls-cap-0").remote) is None
        assert front.identity_of(server.registration("dtls-cap-2").remote) == IDENTITY
    finally:
        for device in devices:
            await device.close()
        await front.close()


async def test_many_concurrent_sessions(server: LwM2MServer, front: DtlsFront) -> None:
    count = 250
    devices = [DtlsDevice(front.uri, IDENTITY, KEYS[IDENTITY]) for _ in range(count)]
    try:
        await asyncio.gather(*(d.start() for d in devices))
        slots = asyncio.Semaphore(50)

        async def register(index: int, device: DtlsDevice) -> Code:
            async with slots:
                return (await device.register(f"dtls-many-{index:03d}", timeout=30)).code

        codes = await asyncio.wait_for(asyncio.gather(*(register(i, d) for i, d in enumerate(devices))), 60)
        assert set(codes) == {Code.CREATED}
        assert len({s.peer for s in front.sessions}) == count
        reads = await asyncio.wait_for(asyncio.gather(*(server.read(f"dtls-many-{i:03d}", "/3/0/0")
                                                       for i in range(count))), 60)
        assert all(r.ok for r in reads)
    finally:
        await asyncio.gather(*(d.close() for d in devices))


async def test_close_frees_every_socket(server: LwM2MServer) -> None:
    front = await start_front(server)
    device = await DtlsDevice(front.uri, IDENTITY, KEYS[IDENTITY]).start()
    try:
        assert (await device.register("dtls-close")).code == Code.CREATED
        port, loopback = front.port, front.sessions[0].loopback_port
        assert loopback is not None
        await front.close()
        assert front.sessions == []
        for bound in (port, loopback):
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            probe.bind(("127.0.0.1", bound))  # free again
            probe.close()
    finally:
        await device.close()


async def test_junk_and_stray_records_make_no_session(front: DtlsFront, device: DtlsDevice) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for junk in (b"", b"\x17\xfe\xfd\x00\x01" + bytes(20), b"\x16\xfe\xfd\x00\x00" + bytes(8) + b"\x00\x05\x01",
                     os.urandom(300)):
            sock.sendto(junk, ("127.0.0.1", front.port))
        await asyncio.sleep(0.1)
        assert front.sessions == []
        assert (await device.register("dtls-after-junk")).code == Code.CREATED
    finally:
        sock.close()


# ---- the record header parser ---------------------------------------------------------------------

records = st.lists(st.tuples(st.sampled_from([20, 21, 22, 23]), st.integers(0, 3), st.integers(0, 2**48 - 1),
                             st.binary(max_size=40)), max_size=5)


def encode(content_type: int, epoch: int, sequence: int, fragment: bytes) -> bytes:
    return (bytes([content_type]) + b"\xfe\xfd" + epoch.to_bytes(2, "big") + sequence.to_bytes(6, "big")
            + len(fragment).to_bytes(2, "big") + fragment)


@given(records)
def test_record_headers_read_back_what_was_written(parts: list[tuple[int, int, int, bytes]]) -> None:
    datagram = b"".join(encode(*part) for part in parts)
    assert record_headers(datagram) == [
        RecordHeader(t, e, s, fragment[:2] if e == 0 else b"") for t, e, s, fragment in parts]
    assert is_client_hello(datagram) == bool(parts and parts[0][0] == 22 and parts[0][1] == 0
                                             and parts[0][3][:1] == b"\x01")


@given(records, st.binary(max_size=12))
def test_record_headers_ignore_a_truncated_tail(parts: list[tuple[int, int, int, bytes]], tail: bytes) -> None:
    datagram = b"".join(encode(*part) for part in parts)
    assert record_headers(datagram + tail[:12]) == record_headers(datagram)
    truncated = encode(22, 0, 1, b"\x01" * 10)[:-1]
    assert record_headers(datagram + truncated) == record_headers(datagram)


@given(st.integers(0, 2**48 - 1), st.integers(1, 2), st.integers(0, 255))
def test_alert_record_parses_as_an_alert(sequence: int, level: int, code: int) -> None:
    assert record_headers(alert_record(sequence, level, code)) == [
        RecordHeader(21, 0, sequence, bytes([level, code]))]


class FixedPortPeer:
    """A DTLS client on a socket of its own that it keeps across handshakes, as a device with a fixed
    port does (aiocoap opens a new socket per connection, so it cannot show this)."""

    def __init__(self, sock: socket.socket, server: tuple[str, int], identity: str, key: bytes) -> None:
        from DTLSSocket import dtls

        self.sock, self.server = sock, server
        self.connected = asyncio.Event()
        self.plaintext: asyncio.Queue[bytes] = asyncio.Queue()
        # DTLSSocket keeps only a char* to pskId: the bytes must outlive the context.
        self.identity = identity.encode()
        self.dtls = dtls.DTLS(read=self._read, write=self._write, event=self._event,
                              pskId=self.identity, pskStore={self.identity: key})
        self.connection = self.dtls.connect("::1", 1)
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)

    def _read(self, _addr: object, data: bytes) -> int:
        self.plaintext.put_nowait(data)
        return len(data)

    def _write(self, _addr: object, data: bytes) -> int:
        self.sock.sendto(data, self.server)
        return len(data)

    def _event(self, level: int, code: int) -> None:
        if (level, code) == (0, 0x01DE):
            self.connected.set()

    def _readable(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self.dtls.handleMessage(self.connection, self.sock.recv(4096))

    async def register(self, endpoint: str) -> Message:
        await asyncio.wait_for(self.connected.wait(), 5)
        # A raw confirmable request: this peer has no aiocoap context to number it.
        request = Message(code=Code.POST, uri_path=("rd",), uri_query=(f"ep={endpoint}",))
        request.mtype, request.mid, request.token = CON, 1, b"t"
        self.dtls.write(self.connection, request.encode())
        return Message.decode(await asyncio.wait_for(self.plaintext.get(), 5))

    def forget(self) -> None:
        """Drop the session on this side without a word, as a device that restarts."""
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.dtls.pycb = {"read": self._read, "write": lambda _a, d: len(d), "event": lambda _l, _c: None}
        self.connection = None


async def test_a_new_handshake_from_the_same_address_replaces_the_session(server: LwM2MServer,
                                                                          front: DtlsFront) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    try:
        before = FixedPortPeer(sock, ("127.0.0.1", front.port), IDENTITY, KEYS[IDENTITY])
        assert (await before.register("fixed-port")).code == Code.CREATED
        [old] = front.sessions
        before.forget()
        after = FixedPortPeer(sock, ("127.0.0.1", front.port), IDENTITY, KEYS[IDENTITY])
        assert (await after.register("fixed-port")).code == Code.CREATED
        [new] = front.sessions
        assert new is not old and new.peer == old.peer == sock.getsockname()
        assert front.identity_of(server.registration("fixed-port").remote) == IDENTITY
        after.forget()
    finally:
        sock.close()


async def test_a_handshake_left_unfinished_expires(server: LwM2MServer, caplog: pytest.LogCaptureFixture) -> None:
    front = await start_front(server, handshake_timeout=0.3, sweep_interval=0.05)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    try:
        with caplog.at_level(logging.WARNING, logger="agent.simulator.dtls_front"):
            peer = FixedPortPeer(sock, ("127.0.0.1", front.port), IDENTITY, KEYS[IDENTITY])
            peer.forget()  # sent its ClientHello, then went away
            await eventually(lambda: len(front.sessions) == 1)
            await eventually(lambda: not front.sessions)
        assert f"127.0.0.1:{sock.getsockname()[1]} refused: not finished within 0.3 s" in caplog.text
    finally:
        sock.close()
        await front.close()
