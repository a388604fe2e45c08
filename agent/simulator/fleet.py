"""A simulated fleet: many agents in one process, each with its own UDP socket and endpoint name.

Agents start in waves of bounded size so a fleet of thousands does not open every socket and send
every Register in the same event-loop tick (which would only make the server drop requests and the
agents back off).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..client.agent import ClientSettings, LwM2MClient
from ..client.registration import RegistrationSettings
from ..profiles.lifecycle import close_tree, start_tree
from ..tree import ObjectTree

log = logging.getLogger(__name__)

TreeFactory = Callable[[int, str], Awaitable[ObjectTree]]


@dataclass
class FleetSettings:
    count: int
    endpoint_prefix: str
    server_uri: str
    bootstrap_uri: str | None = None
    lifetime: int = 60
    lwm2m_version: str = "1.1"
    host: str = "127.0.0.1"
    start_concurrency: int = 100
    register_wait: float = 5.0
    backoff_max: float = 30.0


def raise_open_file_limit(needed: int) -> int:
    """Raise the soft limit on open files toward the hard limit: each agent holds one socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, needed)) if hard != resource.RLIM_INFINITY else max(soft, needed)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


def endpoint_name(prefix: str, index: int, count: int) -> str:
    return prefix if count == 1 else f"{prefix}-{index:05d}"


@dataclass
class SimulatedFleet:
    settings: FleetSettings
    tree_factory: TreeFactory
    agents: list[LwM2MClient] = field(default_factory=list)

    async def start(self) -> None:
        s = self.settings
        limit = raise_open_file_limit(s.count + 256)
        if s.count + 64 > limit:
            raise RuntimeError(f"{s.count} agents need {s.count + 64} open files; the limit here is {limit}")
        semaphore = asyncio.Semaphore(s.start_concurrency)

        async def start_one(index: int) -> LwM2MClient:
            async with semaphore:
                endpoint = endpoint_name(s.endpoint_prefix, index, s.count)
                tree = await self.tree_factory(index, endpoint)
                await start_tree(tree)
                reg = RegistrationSettings(server_uri=s.server_uri, endpoint=endpoint, lifetime=s.lifetime,
                                           lwm2m_version=s.lwm2m_version, backoff_max=s.backoff_max)
                # Simulated devices share this host's network: one netlink socket each would be waste.
                client = LwM2MClient(tree, ClientSettings(reg, bind_host=s.host, bootstrap_uri=s.bootstrap_uri,
                                                          watch_network=False))
                await client.start()
                # Hold the slot until the Register is answered: a burst larger than the server's
                # socket buffer is dropped by the kernel and costs every dropped agent a retransmit.
                with contextlib.suppress(asyncio.TimeoutError):
                    await client.wait_registered(s.register_wait)
                return client

        self.agents = list(await asyncio.gather(*(start_one(i) for i in range(s.count))))

    async def wait_registered(self, timeout: float) -> None:
        await asyncio.wait_for(asyncio.gather(*(a.wait_registered() for a in self.agents)), timeout)

    async def stop(self, deregister: bool = True) -> None:
        semaphore = asyncio.Semaphore(self.settings.start_concurrency)

        async def stop_one(client: LwM2MClient) -> None:
            async with semaphore:
                await client.stop(deregister=deregister)
                await close_tree(client.tree)

        await asyncio.gather(*(stop_one(a) for a in self.agents), return_exceptions=True)
        self.agents = []
