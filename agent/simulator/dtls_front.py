"""A DTLS 1.2 PSK terminator in front of the plain LwM2M server: the emulator's ``coaps://`` endpoint.

Soracom Inventory's DM server speaks DTLS with a pre-shared key (TLS_PSK_WITH_AES_128_CCM_8; the PSK
identity is the device id, the key its secret). The emulator must too, and its LwM2M server must still
send requests of its own (Read, Write, Execute, Observe) to each client over that client's session.

Why a terminator and not aiocoap's own DTLS server transport (``tinydtls_server``): that transport
cannot send a request to a client (its ``recognize_remote`` accepts only plain addresses, so any
server-initiated request fails with NoRequestInterface), listens on the bind port + 1, and holds at
most 64 connections. A terminator keeps one implementation of the LwM2M server (``LwM2MServer``) for
both plain CoAP and DTLS, unchanged:

* one public UDP socket takes the DTLS records of every peer;
* per peer address, a tinydtls context and session (DTLSSocket, the library aiocoap uses) run the
  handshake; the key is found by identity through a callback (the emulator's Inventory);
* once the handshake is done, the session gets its own UDP socket on loopback: each decrypted CoAP
  datagram goes from it to the plain server, and whatever the plain server sends to it (responses,
  and its own requests: Read, Observe, ACKs of notifications) is encrypted back to the peer. To the
  plain server every DTLS session is one plain client address, so its request machinery, token and
  retransmission handling work as they are.

``identity_of(remote)`` says which PSK identity authenticated the session behind a loopback address,
so the Inventory can refuse a Register that names another device's endpoint.

Bounds, so memory stays bounded with thousands of agents: at most ``max_sessions`` sessions (the least
recently heard one is dropped for a new peer), a handshake must finish within ``handshake_timeout``,
and a session not heard from for ``idle_timeout`` is forgotten. A peer whose session was forgotten gets
no answer (as from a restarted server or after a NAT timeout) and must handshake again;
``drop_sessions()`` does that to every session at once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from DTLSSocket import dtls

log = logging.getLogger(__name__)

PskLookup = Callable[[str], bytes | None]
"""PSK identity -> key (raw bytes), or None when the identity is unknown."""

PeerAddress = tuple[str, int]

# Events tinydtls reports (dtls.h): alert level 0 is tinydtls' own state change.
_LEVEL_EVENT = 0
_LEVEL_FATAL = 2
_EVENT_CONNECTED = 0x01DE
_ALERT_NAMES = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 40: "handshake_failure",
                47: "illegal_parameter", 50: "decode_error", 51: "decrypt_error", 80: "internal_error",
                115: "unknown_psk_identity"}

# tinydtls copies the key into a buffer of DTLS_PSK_MAX_KEY_LEN bytes without checking its length.
MAX_KEY_LENGTH = 32
# tinydtls addresses every session by an IPv6 sockaddr; with one context per peer it is never used.
_SENTINEL_HOST = "::1"
_SENTINEL_PORT = 5684
_CONTENT_CHANGE_CIPHER_SPEC = 20
_CONTENT_ALERT = 21
_CONTENT_HANDSHAKE = 22
_HANDSHAKE_CLIENT_HELLO = 1
_ALERT_DECRYPT_ERROR = 51
_DTLS_1_2 = b"\xfe\xfd"
_RECORD_HEADER = 13


@dataclass(frozen=True)
class RecordHeader:
    """What the front needs of a DTLS record (RFC 6347 4.1): its type, epoch and sequence number,
    and the first two bytes of its fragment (a handshake's message type, an alert's level and code)
    when the record is in the clear (epoch 0)."""

    content_type: int
    epoch: int
    sequence: int
    lead: bytes


def record_headers(datagram: bytes) -> list[RecordHeader]:
    """The records of a datagram, in order; a truncated tail record is left out."""
    headers: list[RecordHeader] = []
    offset = 0
    while offset + _RECORD_HEADER <= len(datagram):
        length = int.from_bytes(datagram[offset + 11:offset + 13], "big")
        end = offset + _RECORD_HEADER + length
        if end > len(datagram):
            break
        epoch = int.from_bytes(datagram[offset + 3:offset + 5], "big")
        headers.append(RecordHeader(
            content_type=datagram[offset], epoch=epoch,
            sequence=int.from_bytes(datagram[offset + 5:offset + 11], "big"),
            lead=datagram[offset + _RECORD_HEADER:min(end, offset + _RECORD_HEADER + 2)] if epoch == 0 else b"",
        ))
        offset = end
    return headers


def is_client_hello(datagram: bytes) -> bool:
    """True when a datagram starts with a ClientHello at epoch 0: a peer starting a handshake."""
    headers = record_headers(datagram)
    return bool(headers) and headers[0].content_type == _CONTENT_HANDSHAKE and headers[0].epoch == 0 \
        and headers[0].lead[:1] == bytes([_HANDSHAKE_CLIENT_HELLO])


def alert_record(sequence: int, level: int, code: int) -> bytes:
    """A DTLS 1.2 alert record at epoch 0 (in the clear, as during a handshake)."""
    return (bytes([_CONTENT_ALERT]) + _DTLS_1_2 + b"\0\0" + sequence.to_bytes(6, "big") + b"\0\2"
            + bytes([level, code]))


@dataclass
class FrontSettings:
    """The front's bounds (see the module docstring); times in seconds."""

    max_sessions: int = 20_000
    idle_timeout: float = 3600.0
    handshake_timeout: float = 20.0
    sweep_interval: float = 1.0  # how often handshakes are retransmitted and old sessions expire


class _KeyStore:
    """The ``pskStore`` tinydtls asks during a handshake (``keys()``, ``in``, ``[]``): it looks the
    identity up through the front's callback and remembers what was asked, which is how the session
    learns its peer's identity. It never raises: tinydtls calls it from C."""

    def __init__(self, lookup: PskLookup) -> None:
        self._lookup = lookup
        self.identity: str | None = None
        self.key: bytes | None = None
        self.refused = ""  # why the identity was refused

    def keys(self) -> _KeyStore:
        return self

    def __contains__(self, raw: object) -> bool:
        if not isinstance(raw, bytes):
            return False
        try:
            identity = raw.decode("ascii")
        except UnicodeDecodeError:
            self.refused = f"PSK identity {raw[:40]!r} is not ASCII"
            return False
        self.identity = identity
        try:
            key = self._lookup(identity)
        except Exception:  # the callback's failure must not unwind through tinydtls
            log.exception("PSK lookup of %r failed", identity)
            key = None
        if key is None:
            self.refused = f"unknown PSK identity {identity!r}"
        elif not 0 < len(key) <= MAX_KEY_LENGTH:
            self.refused = f"the key of PSK identity {identity!r} is {len(key)} bytes (1-{MAX_KEY_LENGTH} allowed)"
            key = None
        self.key = key
        return key is not None

    def __getitem__(self, raw: bytes) -> bytes:
        return self.key or b""


class DtlsSession:
    """One peer's DTLS session and, once the handshake is done, its loopback socket to the server."""

    def __init__(self, front: DtlsFront, peer: PeerAddress) -> None:
        self.front = front
        self.peer = peer
        self.started = time.monotonic()
        self.last_heard = self.started
        self.connected = False
        self.closed = False
        self.ended = False  # a fatal alert went either way: the session only waits to be discarded
        self.alert = ""
        self._cipher_changed = False
        self._clear_sequence = 0
        self.keys = _KeyStore(front.lookup)
        self._dtls: Any = dtls.DTLS(read=self._decrypted, write=self._encrypted, event=self._event,
                                    pskId=b"", pskStore=self.keys)
        self._session: Any = dtls.Session(_SENTINEL_HOST, _SENTINEL_PORT)
        self.loopback: socket.socket | None = None

    @property
    def identity(self) -> str | None:
        """The PSK identity the peer authenticated with; None before the handshake is done."""
        return self.keys.identity if self.connected else None

    @property
    def loopback_port(self) -> int | None:
        return self.loopback.getsockname()[1] if self.loopback is not None else None

    # ---- from the peer ----------------------------------------------------------------------------
    def received(self, datagram: bytes) -> None:
        self.last_heard = time.monotonic()
        self._dtls.handleMessage(self._session, datagram)
        if self.ended:
            return
        headers = record_headers(datagram)
        if self.connected:
            if any(h.content_type == _CONTENT_ALERT for h in headers):
                # Encrypted, so unread; a peer's alert on an open session is its close_notify in
                # practice (tinydtls answers it without an event): the session is over.
                self.alert = "closed by the peer"
                self._end()
            return
        self._cipher_changed |= any(h.content_type == _CONTENT_CHANGE_CIPHER_SPEC for h in headers)
        if self._cipher_changed and self.keys.key is not None and any(
                h.content_type == _CONTENT_HANDSHAKE and h.epoch > 0 for h in headers):
            # The peer's Finished did not decrypt with the key of its identity; tinydtls drops it in
            # silence, which would leave the peer waiting. Tell it, as a TLS server does.
            self.alert = _ALERT_NAMES[_ALERT_DECRYPT_ERROR]
            self.front.send_to_peer(alert_record(self._clear_sequence + 1, _LEVEL_FATAL, _ALERT_DECRYPT_ERROR),
                                    self.peer)
            self._end()

    def retransmit(self) -> None:
        if not self.closed:
            self._dtls.checkRetransmit()

    # ---- tinydtls callbacks (called from C: they must not raise) ----------------------------------
    def _encrypted(self, _sentinel: object, datagram: bytes) -> int:
        if self.closed:
            return len(datagram)
        self.front.send_to_peer(datagram, self.peer)
        if not self.connected:
            for header in record_headers(datagram):
                if header.epoch == 0:
                    self._clear_sequence = max(self._clear_sequence, header.sequence)
                if header.content_type == _CONTENT_ALERT and header.lead[:1] == bytes([_LEVEL_FATAL]):
                    # tinydtls refuses a handshake with an alert but reports no event for it.
                    code = header.lead[1] if len(header.lead) > 1 else -1
                    self.alert = _ALERT_NAMES.get(code, f"alert {code}")
                    self._end()
        return len(datagram)

    def _decrypted(self, _sentinel: object, datagram: bytes) -> int:
        if self.loopback is not None and not self.closed:
            with contextlib.suppress(OSError):  # a full loopback buffer drops, as UDP does
                self.loopback.send(datagram)
        return len(datagram)

    def _event(self, level: int, code: int) -> int:
        if self.closed:
            return 0
        if (level, code) == (_LEVEL_EVENT, _EVENT_CONNECTED):
            self.connected = True
            try:
                self.loopback = self.front.open_loopback(self)
            except OSError as exc:  # out of file descriptors, most likely
                self.alert = f"no loopback socket ({exc})"
                self._end()
                return 0
            log.info("DTLS session from %s as %s", _host_port(self.peer), self.keys.identity)
        elif level == _LEVEL_FATAL:
            self.alert = _ALERT_NAMES.get(code, f"alert {code}")
            self._end()
        return 0

    def _end(self) -> None:
        if not self.ended:
            self.ended = True
            self.front.failed(self)

    # ---- towards the peer -------------------------------------------------------------------------
    def from_server(self, datagram: bytes) -> None:
        if not self.closed:
            self._dtls.write(self._session, datagram)

    def close_notify(self) -> None:
        if self.connected and not self.closed and not self.ended:
            with contextlib.suppress(Exception):
                self._dtls.close(self._session)

    def release(self) -> None:
        """Forget the session without a word to the peer; closes its loopback socket."""
        self.closed = True
        if self.loopback is not None:
            self.front.close_loopback(self.loopback)
            self.loopback = None
        # Break the cycle through tinydtls' callbacks so the context is freed now; whatever it still
        # writes while freeing (a close_notify) goes nowhere.
        self._dtls.pycb = {"read": _discard, "write": _discard, "event": _ignore}
        self._dtls = None
        self._session = None


def _discard(_address: object, data: bytes) -> int:
    return len(data)


def _ignore(_level: int, _code: int) -> int:
    return 0


def _host_port(peer: PeerAddress) -> str:
    host, port = peer[0], peer[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _PublicProtocol(asyncio.DatagramProtocol):
    def __init__(self, front: DtlsFront) -> None:
        self.front = front
        self.lost = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.front.record_received(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        log.debug("DTLS socket: %s", exc)


class DtlsFront:
    """See the module docstring. ``backend`` is the plain LwM2M server's (host, port) on loopback."""

    def __init__(self, backend: PeerAddress, lookup: PskLookup, host: str = "127.0.0.1", port: int = 0,
                 settings: FrontSettings | None = None) -> None:
        self.backend = backend
        self.lookup = lookup
        self.host = host
        self.bind_port = port
        self.settings = settings or FrontSettings()
        self._sessions: collections.OrderedDict[PeerAddress, DtlsSession] = collections.OrderedDict()
        self._handshaking: dict[PeerAddress, DtlsSession] = {}
        self._by_loopback: dict[int, DtlsSession] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self._protocol: _PublicProtocol | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        transport, protocol = await self._loop.create_datagram_endpoint(
            lambda: _PublicProtocol(self), local_addr=(self.host, self.bind_port))
        self._transport = transport
        self._protocol = protocol
        self._sweeper = self._loop.create_task(self._sweep_loop())

    async def close(self) -> None:
        """Stop: a close_notify to every connected peer, then every socket and task is closed."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for session in list(self._sessions.values()):
            session.close_notify()
            self.discard(session)
        if self._transport is not None and self._protocol is not None:
            self._transport.close()
            await self._protocol.lost  # the socket is closed once the transport says it is lost
            self._transport = None

    @property
    def port(self) -> int:
        if self._transport is None:
            raise RuntimeError("DTLS front not started")
        return int(self._transport.get_extra_info("sockname")[1])

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"coaps://{host}:{self.port}"

    # ---- what the emulator asks -------------------------------------------------------------------
    @property
    def sessions(self) -> list[DtlsSession]:
        return list(self._sessions.values())

    def session_for(self, remote: object) -> DtlsSession | None:
        """The session behind a loopback address the plain server saw (an aiocoap remote, or a
        ``(host, port)`` sockaddr); None for any other address."""
        sockaddr = getattr(remote, "sockaddr", remote)
        if not isinstance(sockaddr, tuple) or len(sockaddr) < 2:
            return None
        host = str(sockaddr[0]).removeprefix("::ffff:")
        if host != "127.0.0.1":
            return None
        return self._by_loopback.get(int(sockaddr[1]))

    def identity_of(self, remote: object) -> str | None:
        """The PSK identity that authenticated the session behind ``remote`` (see ``session_for``)."""
        session = self.session_for(remote)
        return session.identity if session is not None else None

    def peer_of(self, remote: object) -> PeerAddress | None:
        """The peer's own address (host, port) behind a loopback address (see ``session_for``)."""
        session = self.session_for(remote)
        return session.peer if session is not None and session.connected else None

    def drop_sessions(self) -> int:
        """Forget every session abruptly, without close_notify, as a server restart or a NAT timeout
        would; returns how many there were."""
        dropped = list(self._sessions.values())
        for session in dropped:
            self.discard(session)
        return len(dropped)

    # ---- records from peers -----------------------------------------------------------------------
    def record_received(self, record: bytes, peer: PeerAddress) -> None:
        session = self._sessions.get(peer)
        if session is not None and session.connected and is_client_hello(record):
            # The peer started over on the same address (an agent restarted): a new session replaces
            # the old one, as RFC 6347 4.2.8 allows.
            log.info("DTLS peer %s starts a new handshake; its old session is dropped", _host_port(peer))
            self.discard(session)
            session = None
        if session is None:
            if not is_client_hello(record):
                return  # no session: nothing to decrypt with; the peer must handshake again
            session = self._new_session(peer)
        else:
            self._sessions.move_to_end(peer)
        try:
            session.received(record)
        except Exception:  # a malformed record must not stop the front
            log.exception("DTLS record from %s", _host_port(peer))
            self.discard(session)

    def _new_session(self, peer: PeerAddress) -> DtlsSession:
        while len(self._sessions) >= self.settings.max_sessions:
            oldest = next(iter(self._sessions.values()))
            log.warning("DTLS sessions at the limit (%d): dropping the least recently heard, %s",
                        self.settings.max_sessions, _host_port(oldest.peer))
            self.discard(oldest)
        session = DtlsSession(self, peer)
        self._sessions[peer] = session
        self._handshaking[peer] = session
        return session

    def send_to_peer(self, record: bytes, peer: PeerAddress) -> None:
        if self._transport is not None:
            self._transport.sendto(record, peer)

    # ---- session ends -----------------------------------------------------------------------------
    def failed(self, session: DtlsSession) -> None:
        """A fatal alert, sent or received: the session ends; a refused handshake is logged once."""
        if session.connected:
            log.info("DTLS session from %s as %s ended: %s", _host_port(session.peer), session.keys.identity,
                     session.alert)
        else:
            log.warning("DTLS handshake from %s refused: %s", _host_port(session.peer), self._cause(session))
        self._loop_required.call_soon(self.discard, session)  # not from inside tinydtls' own call

    def _cause(self, session: DtlsSession, timed_out: bool = False) -> str:
        """Why a handshake failed, in one line that names the identity but never the key."""
        identity = session.keys.identity
        if session.keys.refused:
            return session.keys.refused
        if identity is not None and session.alert == _ALERT_NAMES[_ALERT_DECRYPT_ERROR]:
            return f"wrong key for PSK identity {identity!r} (decrypt_error)"
        cause = f"not finished within {self.settings.handshake_timeout:g} s" if timed_out \
            else session.alert or "no handshake"
        return f"{cause} (PSK identity {identity!r})" if identity is not None else cause

    def discard(self, session: DtlsSession) -> None:
        if self._sessions.get(session.peer) is session:
            del self._sessions[session.peer]
        if self._handshaking.get(session.peer) is session:
            del self._handshaking[session.peer]
        port = session.loopback_port
        if port is not None and self._by_loopback.get(port) is session:
            del self._by_loopback[port]
        if not session.closed:
            session.release()

    # ---- loopback side ----------------------------------------------------------------------------
    @property
    def _loop_required(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("DTLS front not started")
        return self._loop

    def open_loopback(self, session: DtlsSession) -> socket.socket:
        self._handshaking.pop(session.peer, None)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind(("127.0.0.1", 0))
            sock.connect(self.backend)
        except OSError:
            sock.close()
            raise
        self._by_loopback[sock.getsockname()[1]] = session
        self._loop_required.add_reader(sock.fileno(), self._from_server, session, sock)
        return sock

    def close_loopback(self, sock: socket.socket) -> None:
        if self._loop is not None:
            self._loop.remove_reader(sock.fileno())
        sock.close()

    def _from_server(self, session: DtlsSession, sock: socket.socket) -> None:
        while True:
            try:
                datagram = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP port unreachable while the server restarts
                return
            session.from_server(datagram)
            if session.closed:
                return

    # ---- timers -----------------------------------------------------------------------------------
    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval)
            self.sweep(time.monotonic())

    def sweep(self, now: float) -> None:
        """Retransmit handshake flights due, end handshakes too slow and sessions idle too long."""
        s = self.settings
        for session in list(self._handshaking.values()):
            if now - session.started > s.handshake_timeout:
                log.warning("DTLS handshake from %s refused: %s", _host_port(session.peer),
                            self._cause(session, timed_out=True))
                self.discard(session)
            else:
                session.retransmit()
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if now - oldest.last_heard <= s.idle_timeout:
                break
            log.info("DTLS session from %s idle for %.0f s: forgotten", _host_port(oldest.peer),
                     now - oldest.last_heard)
            self.discard(oldest)
