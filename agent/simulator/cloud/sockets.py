"""TCP and UDP entry points sharing one port, as Harvest's ``:8514`` and the Unified Endpoint's ``:23080``.

Each TCP segment the server reads and each UDP datagram is one message, as Soracom documents for its TCP
entry points; every message gets one reply from the handler (on the same connection, or as a datagram to
the sender). A handler that fails is logged and the connection or socket goes on serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import Callable
from typing import cast

log = logging.getLogger(__name__)

Peer = tuple[str, int] | None
SocketHandler = Callable[[bytes, Peer], bytes]
"""Takes one message and the sender's address, returns the reply."""

MAX_MESSAGE_BYTES = 65536


class _DatagramIngest(asyncio.DatagramProtocol):
    def __init__(self, handle: SocketHandler) -> None:
        self._handle = handle
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Selector datagram transports do not subclass asyncio.DatagramTransport, though they are one.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        peer = (str(addr[0]), int(addr[1]))
        try:
            reply = self._handle(data, peer)
        except Exception:
            log.exception("UDP ingest failed on a datagram from %s:%s", *peer)
            return
        if self._transport is not None and reply:
            self._transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP ingest socket error: %s", exc)


class SocketIngest:
    """A TCP server and a UDP endpoint bound to the same port; ``address`` is where they listen."""

    def __init__(self, tcp: asyncio.Server, udp: asyncio.DatagramTransport, address: tuple[str, int]) -> None:
        self._tcp = tcp
        self._udp = udp
        self.address = address

    async def close(self) -> None:
        self._udp.close()
        self._tcp.close()
        with contextlib.suppress(Exception):
            await self._tcp.wait_closed()


async def start_socket_ingest(handle: SocketHandler, host: str = "127.0.0.1", port: int = 0) -> SocketIngest:
    """Listen on TCP and UDP ``host:port``; with port 0 both get the same free port."""
    loop = asyncio.get_running_loop()

    async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        peer = (str(peername[0]), int(peername[1])) if isinstance(peername, tuple) else None
        try:
            while chunk := await reader.read(MAX_MESSAGE_BYTES):
                try:
                    reply = handle(chunk, peer)
                except Exception:
                    log.exception("TCP ingest failed on a message from %s", peer)
                    continue
                writer.write(reply)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    attempts = 1 if port else 20
    for attempt in range(attempts):
        tcp = await asyncio.start_server(serve_connection, host, port)
        bound = tcp.sockets[0].getsockname()
        try:
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _DatagramIngest(handle), local_addr=(host, bound[1])
            )
        except OSError as exc:
            tcp.close()
            await tcp.wait_closed()
            # An ephemeral TCP port can be taken for UDP by someone else: try another.
            if exc.errno != errno.EADDRINUSE or attempt == attempts - 1:
                raise
            continue
        return SocketIngest(tcp, udp, (str(bound[0]), int(bound[1])))
    raise AssertionError("unreachable")
