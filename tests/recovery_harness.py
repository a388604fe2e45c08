"""An agent subprocess behind a fault-injecting proxy before the local LwM2M server, and a stopwatch.

Shared by ``tests/test_recovery.py`` (short outages) and ``bench/recovery.py`` (long ones): the agent
runs as a user runs it (``lwm2m-agent run``), the proxy (:mod:`udp_proxy`) is the network, and
"reachable" means what a server operator sees: a Read of /3/0/0 answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from udp_proxy import Faults, UdpProxy

from agent.core.formats import ContentFormat
from agent.simulator.lwm2m_server import ClientError, LwM2MServer

HERE = Path(__file__).resolve().parent
CLI = [sys.executable, "-m", "agent.cli"]


@dataclass
class Setup:
    server: LwM2MServer
    proxy: UdpProxy
    proc: asyncio.subprocess.Process
    endpoint: str
    log: Path
    server_port: int

    async def restart_server(self, down: float) -> None:
        """Kill the server (it forgets every registration), and start a new one on its port ``down`` s later."""
        models = self.server.models
        await self.server.stop()
        await asyncio.sleep(down)
        self.server = LwM2MServer(models, host="127.0.0.1", port=self.server_port, request_timeout=1.0)
        await self.server.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


async def time_to_reachable(server: LwM2MServer, endpoint: str, limit: float, read_timeout: float = 1.0) -> float:
    """Seconds until the server can read /3/0/0 from ``endpoint`` (AssertionError after ``limit``)."""
    started = time.monotonic()
    server.request_timeout = read_timeout
    while time.monotonic() - started < limit:
        if server.is_registered(endpoint):
            with contextlib.suppress(ClientError):
                result = await server.read(endpoint, "/3/0/0", ContentFormat.TEXT)
                if result.ok:
                    return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"{endpoint} not reachable within {limit} s")


async def wait_update(server: LwM2MServer, endpoint: str, timeout: float) -> None:
    """Wait for the next Update of ``endpoint`` (a fresh Register counts too)."""
    reg = server.registration(endpoint)
    seen = (reg.location, reg.updates)
    await server.wait_for(lambda: server.is_registered(endpoint) and (
        server.registration(endpoint).location, server.registration(endpoint).updates) != seen, timeout)


@contextlib.asynccontextmanager
async def agent_behind_proxy(tmp: Path, endpoint: str, *, lifetime: int, faults: Faults | None = None,
                             models: object = None, extra: tuple[str, ...] = (), seed: int = 1) -> AsyncIterator[Setup]:
    from support import agent_models

    server = LwM2MServer(models or agent_models(), host="127.0.0.1", request_timeout=1.0)  # type: ignore[arg-type]
    await server.start()
    proxy = UdpProxy(("127.0.0.1", server.port), faults, seed=seed)
    await proxy.start()
    log = tmp / f"{endpoint}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *CLI, "run", "-v", "--server", proxy.uri, "--endpoint", endpoint, "--lifetime", str(lifetime),
            "--bind", "127.0.0.1", "--state-dir", str(tmp / f"{endpoint}-state"), *extra,
            stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL)
    setup = Setup(server, proxy, proc, endpoint, log, server.port)
    try:
        yield setup
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await proxy.close()
        await setup.server.stop()
