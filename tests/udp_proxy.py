"""A fault-injecting UDP proxy for loopback tests: the network between an agent and its server.

The agent is configured with the proxy's address as its server. Like a NAT, the proxy gives each
agent source address a socket of its own toward the server (the address the server sees and sends
to), and forwards the server's datagrams on that socket back to that agent address. Faults apply to
both directions:

* ``loss`` (probability), ``delay`` + ``jitter`` (seconds), ``duplicate`` (probability),
  ``reorder`` (probability that a datagram is held back by ``reorder_hold`` seconds, so later ones
  overtake it);
* :meth:`UdpProxy.blackout` drops everything until :meth:`UdpProxy.restore`;
* :meth:`UdpProxy.rebind` closes every server-facing socket, so the agent's next datagram leaves
  from a new port -- what a NAT does when its binding expires or the uplink changes. Datagrams the
  server sends to the old port are lost, as they are behind a real NAT.

All randomness comes from one seeded ``random.Random``, so a failing run can be replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

Address = tuple[str, int]


@dataclass
class Faults:
    loss: float = 0.0
    delay: float = 0.0
    jitter: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_hold: float = 0.05


@dataclass
class Counters:
    forwarded: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    rebinds: int = 0
    to_server: int = 0
    to_agent: int = 0
    server_ports: list[int] = field(default_factory=list)


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Callable[[bytes, Address], None]) -> None:
        self.on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: Address) -> None:  # type: ignore[override]
        self.on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP unreachable from a stopped server: the datagram is lost, as on a real path


class UdpProxy:
    def __init__(self, server: Address, faults: Faults | None = None, seed: int = 1, host: str = "127.0.0.1") -> None:
        self.server = server
        self.faults = faults or Faults()
        self.host = host
        self.rng = random.Random(seed)
        self.counters = Counters()
        self.dark = False
        self._front: asyncio.DatagramTransport | None = None
        self._backs: dict[Address, asyncio.DatagramTransport] = {}
        self._opening: dict[Address, asyncio.Task[asyncio.DatagramTransport]] = {}

    async def start(self, port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        self._front, _ = await loop.create_datagram_endpoint(
            lambda: _Receiver(self._from_agent), local_addr=(self.host, port))

    @property
    def port(self) -> int:
        assert self._front is not None
        return int(self._front.get_extra_info("sockname")[1])

    @property
    def uri(self) -> str:
        return f"coap://{self.host}:{self.port}"

    # ---- faults -----------------------------------------------------------------------------------
    def blackout(self) -> None:
        self.dark = True

    def restore(self) -> None:
        self.dark = False

    def rebind(self) -> None:
        """Forget every mapping: the agent's next datagram reaches the server from a new port."""
        self.counters.rebinds += 1
        backs, self._backs = self._backs, {}
        for transport in backs.values():
            transport.close()

    # ---- forwarding --------------------------------------------------------------------------------
    def _from_agent(self, data: bytes, agent: Address) -> None:
        back = self._backs.get(agent)
        if back is not None:
            self._deliver(lambda d: back.sendto(d, self.server), data, to_server=True)
            return
        if agent not in self._opening:
            self._opening[agent] = asyncio.get_running_loop().create_task(self._open_back(agent))
        opening = self._opening[agent]
        opening.add_done_callback(lambda task: None if task.cancelled() or task.exception() else self._deliver(
            lambda d: task.result().sendto(d, self.server), data, to_server=True))

    async def _open_back(self, agent: Address) -> asyncio.DatagramTransport:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Receiver(lambda data, _addr: self._from_server(data, agent, transport)),
            local_addr=(self.host, 0))
        self._backs[agent] = transport
        self._opening.pop(agent, None)
        self.counters.server_ports.append(int(transport.get_extra_info("sockname")[1]))
        return transport

    def _from_server(self, data: bytes, agent: Address, back: asyncio.DatagramTransport) -> None:
        if self._backs.get(agent) is not back or self._front is None:
            return  # a stale mapping: a NAT that re-bound drops what arrives on the old port
        front = self._front
        self._deliver(lambda d: front.sendto(d, agent), data, to_server=False)

    def _deliver(self, send: Callable[[bytes], None], data: bytes, *, to_server: bool) -> None:
        f = self.faults
        if self.dark or self.rng.random() < f.loss:
            self.counters.dropped += 1
            return
        copies = 1
        if self.rng.random() < f.duplicate:
            copies = 2
            self.counters.duplicated += 1
        loop = asyncio.get_running_loop()
        for _ in range(copies):
            delay = f.delay + self.rng.uniform(0, f.jitter)
            if self.rng.random() < f.reorder:
                delay += f.reorder_hold
                self.counters.reordered += 1
            loop.call_later(delay, self._send_now, send, data, to_server)

    def _send_now(self, send: Callable[[bytes], None], data: bytes, to_server: bool) -> None:
        if self.dark:
            self.counters.dropped += 1
            return
        with contextlib.suppress(OSError, AttributeError):
            send(data)
            self.counters.forwarded += 1
            if to_server:
                self.counters.to_server += 1
            else:
                self.counters.to_agent += 1

    async def close(self) -> None:
        for task in self._opening.values():
            task.cancel()
        self.rebind()
        if self._front is not None:
            self._front.close()
            self._front = None
