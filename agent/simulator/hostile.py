"""A hostile network for the agent: mutated CoAP datagrams, floods of Observes, abandoned uploads.

Used by the fuzz test (a few thousand datagrams) and by ``bench/hostile.py`` (a hundred thousand).
Datagrams are mutations of valid LwM2M requests, drawn from a seeded ``random.Random`` so a run
can be repeated; they are sent either from the LwM2M server's own socket (the agent must answer
each with its proper code and keep running) or from a stranger's socket (the agent must ignore
them and keep nothing). What the agent costs is read from ``/proc``, not asked of the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import random
import signal
from collections.abc import Callable, Iterator
from typing import Any

import cbor2
from aiocoap import CON, NON, Code, Message
from aiocoap.numbers.contentformat import ContentFormat as CoapContentFormat
from aiocoap.optiontypes import BlockOption

from ..core.formats import ContentFormat

_SEEDS: list[tuple[Code, str, dict[str, Any]]] = [
    (Code.GET, "/3/0/0", {}),
    (Code.GET, "/3/0", {"accept": ContentFormat.TLV}),
    (Code.GET, "/1/0", {"accept": ContentFormat.SENML_CBOR}),
    (Code.GET, "/3", {"accept": ContentFormat.LINK_FORMAT}),
    (Code.GET, "/3/0/13", {"observe": 0}),
    (Code.GET, "/3303/0/5700", {"observe": 0, "query": ("pmin=1", "pmax=5")}),
    (Code.PUT, "/1/0/3", {"payload": b"300", "content_format": ContentFormat.TEXT}),
    (Code.PUT, "/1/0/1", {"payload": b"120", "content_format": ContentFormat.TEXT}),
    (Code.PUT, "/3303/0/5750", {"payload": b"room", "content_format": ContentFormat.TEXT}),
    (Code.PUT, "/3303/0", {"query": ("gt=20", "st=0.5")}),
    (Code.POST, "/3303/0/5605", {}),
    (Code.FETCH, "/", {"payload": json.dumps([{"n": "/3/0/0"}, {"n": "/3303/0/5700"}]).encode(),
                       "content_format": ContentFormat.SENML_JSON}),
    (Code.iPATCH, "/", {"payload": cbor2.dumps([{0: "/3303/0/5750", 3: "x"}]),
                        "content_format": ContentFormat.SENML_CBOR}),
    (Code.PUT, "/3303/0/5750", {"payload": b"a" * 64, "content_format": ContentFormat.TEXT,
                                "block1": (0, True, 2), "size1": 128}),
    (Code.DELETE, "/3303/7", {}),
]


def seed_datagrams(rng: random.Random) -> Iterator[bytes]:
    """Valid requests, CON or NON, with fresh message IDs and tokens."""
    while True:
        code, path, extra = rng.choice(_SEEDS)
        yield request_datagram(code, path, mtype=CON if rng.random() < 0.7 else NON, mid=rng.randrange(1 << 16),
                               token=rng.randbytes(rng.randint(0, 8)), **extra)


def request_datagram(code: Code, path: str, *, mtype: Any = CON, mid: int = 0, token: bytes = b"",
                     payload: bytes = b"", content_format: int | None = None, accept: int | None = None,
                     observe: int | None = None, query: tuple[str, ...] = (),
                     block1: tuple[int, bool, int] | None = None, size1: int | None = None) -> bytes:
    """One request as it goes on the wire."""
    msg = Message(code=code, payload=payload)
    msg.mtype, msg.mid, msg.token = mtype, mid, token
    if path.strip("/"):
        msg.opt.uri_path = tuple(path.strip("/").split("/"))
    if content_format is not None:
        msg.opt.content_format = CoapContentFormat(content_format)
    if accept is not None:
        msg.opt.accept = CoapContentFormat(accept)
    if observe is not None:
        msg.opt.observe = observe
    if query:
        msg.opt.uri_query = query
    if block1 is not None:
        msg.opt.block1 = BlockOption.BlockwiseTuple(*block1)
    if size1 is not None:
        msg.opt.size1 = size1
    return bytes(msg.encode())


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One random mutation: bit flips, byte changes, cuts, insertions, or noise with a valid header."""
    out = bytearray(data)
    kind = rng.randrange(8)
    if kind == 0:
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
    elif kind == 1:
        for _ in range(rng.randint(1, 3)):
            out[rng.randrange(len(out))] = rng.randrange(256)
    elif kind == 2:
        del out[rng.randrange(1, len(out) + 1):]
    elif kind == 3:
        i = rng.randrange(len(out) + 1)
        out[i:i] = rng.randbytes(rng.randint(1, 16))
    elif kind == 4:
        # An option byte with invalid UTF-8 or an odd length right after the token.
        i = 4 + (out[0] & 0x0F) if out else 0
        out[i:i] = bytes([rng.choice([0xB2, 0xD2, 0x42, 0xF0, 0x1D, 0xE1])]) + rng.randbytes(2)
    elif kind == 5:
        out = bytearray([0x40 | rng.randrange(16), rng.randrange(256)]) + rng.randbytes(rng.randint(2, 40))
    elif kind == 6:
        out[1] = rng.randrange(256)  # any code, including responses and reserved classes
    else:
        return bytes(out) + rng.randbytes(rng.randint(1, 64))
    return bytes(out)


def fuzzed_datagrams(seed: int) -> Iterator[bytes]:
    """An endless seeded stream: a third valid requests, the rest mutations of them."""
    rng = random.Random(seed)
    for valid in seed_datagrams(rng):
        yield valid if rng.random() < 0.3 else mutate(rng, valid)


def server_socket_sender(context: Any) -> Callable[[bytes, tuple[str, int, int, int]], None]:
    """``send(data, address)`` on the socket of an aiocoap UDP context: raw datagrams from its address.

    Each datagram gets its message ID from the context's own sequence, as the server's requests do:
    a random one would, now and then, be the ID of a later real request of the server, which the
    agent must then take for a duplicate (RFC 7252 §4.5) -- a fault of the test, not of the agent.
    """
    for interface in context.request_interfaces:
        manager = getattr(interface, "token_interface", None)
        message_interface = getattr(manager, "message_interface", None)
        if message_interface is not None and hasattr(message_interface, "transport"):
            return functools.partial(_send_as, manager, message_interface.transport)
    raise RuntimeError("context has no UDP transport")


def _send_as(manager: Any, transport: Any, data: bytes, address: tuple[str, int, int, int]) -> None:
    if len(data) >= 4:
        data = data[:2] + manager._next_message_id().to_bytes(2, "big") + data[4:]
    transport.sendmsg(data, [], 0, address)


def v6(host: str, port: int) -> tuple[str, int, int, int]:
    """An IPv4 address as the IPv6 socket address an aiocoap (dual-stack) socket sends to."""
    return (f"::ffff:{host}", port, 0, 0)


async def send_paced(send: Any, datagrams: Iterator[bytes], count: int, burst: int = 100,
                     pause: float = 0.002) -> None:
    """``count`` datagrams in bursts, yielding to the loop between bursts (no kernel buffer overrun)."""
    for i in range(count):
        send(next(datagrams))
        if i % burst == burst - 1:
            await asyncio.sleep(pause)


class AgentProcess:
    """A running ``lwm2m-agent`` subprocess whose log (stderr) is collected line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        assert proc.stderr is not None
        self._reader = asyncio.get_running_loop().create_task(self._read(proc.stderr))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.lines.append(line.decode(errors="replace"))

    def rss_mb(self) -> float:
        return rss_kib(self.proc.pid) / 1024

    async def stop(self) -> None:
        """SIGINT (the agent de-registers and exits), SIGKILL if it does not within 20 s."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(self._reader, 5)


def rss_kib(pid: int) -> int:
    """Resident set size of process ``pid`` in KiB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")
