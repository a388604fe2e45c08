"""Raw UDP peers for the trust tests: a stranger's socket, and datagrams built byte by byte."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from aiocoap import CON, Code, Message

from agent.simulator.hostile import request_datagram

_ids = itertools.count(0x1000)


class RawPeer(asyncio.DatagramProtocol):
    """A UDP socket on ``host`` that sends datagrams as given and queues whatever comes back."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(cls, host: str = "127.0.0.2") -> RawPeer:
        loop = asyncio.get_running_loop()
        _, peer = await loop.create_datagram_endpoint(cls, local_addr=(host, 0))
        return peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.received.put_nowait(data)

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return host, port

    def send(self, data: bytes, port: int, host: str = "127.0.0.1") -> None:
        assert self.transport is not None
        self.transport.sendto(data, (host, port))

    async def ask(self, data: bytes, port: int, timeout: float = 1.0) -> Message | None:
        """Send one datagram; the decoded answer, or None when none comes within ``timeout``."""
        while not self.received.empty():
            self.received.get_nowait()
        self.send(data, port)
        try:
            return Message.decode(await asyncio.wait_for(self.received.get(), timeout))
        except TimeoutError:
            return None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def datagram(code: Code, path: str = "", **options: Any) -> bytes:
    """One CON request as it goes on the wire, with a message ID and token of its own."""
    return request_datagram(code, path, mtype=CON, mid=next(_ids) & 0xFFFF, token=next(_ids).to_bytes(4, "big"),
                            **options)


def raw_get(option_bytes: bytes, mid: int = 0x2222, token: bytes = b"\x01\x02") -> bytes:
    """A CON GET with the given encoded options (for options aiocoap will not build: bad UTF-8)."""
    return bytes([0x40 | len(token), 0x01]) + mid.to_bytes(2, "big") + token + option_bytes
