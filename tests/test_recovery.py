"""Recovery of a running agent (``lwm2m-agent run``) from a bad network, measured as a server sees it.

The agent runs as a subprocess behind :mod:`udp_proxy` (the network) before the local LwM2M server.
Each test breaks the path in one way -- loss, delay, duplication and reordering together; outages
between and during Updates; a NAT that re-binds; a server that is killed and comes back -- and
checks how long the server then waits before it can read from the agent again: at most 20 s after
the link returns (issue #11), whatever the phase of the registration cycle. Outages here are a few
seconds long with short lifetimes; ``bench/recovery.py`` measures 45 s ones.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from recovery_harness import agent_behind_proxy, time_to_reachable, wait_update
from support import ENDPOINT, agent_models, build_tree, client_settings
from udp_proxy import Faults

from agent.client.agent import LwM2MClient
from agent.simulator.lwm2m_server import LwM2MServer

BOUND = 20.0  # seconds from the link's (or server's) return to reachable again


async def test_lossy_duplicating_reordering_link_and_a_nat_rebinding(tmp_path: Path) -> None:
    faults = Faults(loss=0.15, delay=0.02, jitter=0.03, duplicate=0.1, reorder=0.15)
    async with agent_behind_proxy(tmp_path, "lossy", lifetime=4, faults=faults, seed=7) as s:
        await s.server.wait_registered("lossy", BOUND)
        # Reads get through despite the faults (CoAP retransmits).
        for _ in range(3):
            assert await time_to_reachable(s.server, "lossy", BOUND, read_timeout=4.0) < BOUND
        await wait_update(s.server, "lossy", BOUND)
        assert s.proxy.counters.dropped and s.proxy.counters.duplicated and s.proxy.counters.reordered

        # The NAT re-binds: the server's requests go to a port nobody listens on, until the agent speaks.
        s.proxy.faults = Faults()
        old_remote = s.server.registration("lossy").remote
        s.proxy.rebind()
        took = await time_to_reachable(s.server, "lossy", BOUND)
        assert s.server.registration("lossy").remote != old_remote
        # The agent cannot see this rebinding; its next Update (every 2 s at lifetime 4) heals it.
        assert took < 2 + 2, took
        assert s.proc.returncode is None, s.log_text()[-2000:]


async def test_blackouts_between_and_during_updates(tmp_path: Path) -> None:
    async with agent_behind_proxy(tmp_path, "dark", lifetime=6) as s:
        await s.server.wait_registered("dark", BOUND)

        # Between Updates: just after one, 2.5 s dark (the next is due 4 s after the last).
        await wait_update(s.server, "dark", 8)
        s.proxy.blackout()
        await asyncio.sleep(2.5)
        s.proxy.restore()
        between = await time_to_reachable(s.server, "dark", BOUND)

        # During an Update, and the server drops the registration meanwhile (as on expiry), and the
        # NAT re-binds: the agent's Update goes unanswered, it probes, and once a ping is answered it
        # updates, learns of the 4.04 and registers again, from the new port.
        await wait_update(s.server, "dark", 8)
        await asyncio.sleep(3.2)
        s.proxy.blackout()
        await asyncio.sleep(1.0)  # the Update is now in the dark
        s.server.forget("dark")
        s.proxy.rebind()
        await asyncio.sleep(2.0)
        s.proxy.restore()
        during = await time_to_reachable(s.server, "dark", BOUND)
        print(f"reachable again {between:.1f} s after a blackout between Updates, {during:.1f} s after one during")
        assert between < BOUND and during < BOUND, (between, during)
        log = s.log_text()
        assert "server forgot registration" in log, log[-3000:]
        assert s.proc.returncode is None


async def test_server_killed_and_restarted(tmp_path: Path) -> None:
    async with agent_behind_proxy(tmp_path, "phoenix", lifetime=4) as s:
        await s.server.wait_registered("phoenix", BOUND)
        # Down for 3 s: the agent's Update (every 2 s) goes unanswered, so it probes; the new server
        # answers the first ping, the Update gets 4.04 and the agent registers again at once.
        await wait_update(s.server, "phoenix", 8)
        await s.restart_server(down=3.0)
        assert not s.server.is_registered("phoenix")
        long_down = await time_to_reachable(s.server, "phoenix", BOUND)
        # Down for a moment between Updates: the agent learns it from its next Update's 4.04.
        await wait_update(s.server, "phoenix", 8)
        await s.restart_server(down=0.2)
        short_down = await time_to_reachable(s.server, "phoenix", BOUND)
        print(f"re-registered {long_down:.1f} s after a 3 s server restart, {short_down:.1f} s after a quick one")
        assert long_down < BOUND and short_down < 4, (long_down, short_down)
        assert s.proc.returncode is None


async def test_the_probe_brings_the_agent_back_long_before_the_retry_timer() -> None:
    """In process, with a 30 s Communication Retry Timer: only the ping can explain a quick return."""
    server = LwM2MServer(agent_models(), host="127.0.0.1")
    await server.start()
    port = server.port
    settings = client_settings(server.uri, lifetime=2, backoff_initial=30.0, backoff_max=60.0,
                               exchange_limit=1.0)
    client = LwM2MClient(build_tree(server.uri), settings)
    await client.start()
    try:
        await server.wait_registered(ENDPOINT)
        await server.stop()
        assert client.engine is not None
        await asyncio.wait_for(_until(lambda: client.engine is not None and client.engine.probes >= 1), 10)
        server = LwM2MServer(agent_models(), host="127.0.0.1", port=port)
        await server.start()
        started = time.monotonic()
        await server.wait_registered(ENDPOINT, 10)
        assert time.monotonic() - started < 6, "a ping every 1.5-4 s, not the 15-30 s retry delay"
    finally:
        await client.stop(deregister=False)
        await server.stop()


async def _until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await asyncio.sleep(0.05)


@pytest.mark.skipif(shutil.which("unshare") is None or shutil.which("ip") is None, reason="needs unshare and ip")
async def test_an_address_change_the_agent_sees_sends_an_update_at_once() -> None:
    script = Path(__file__).resolve().parent / "netns_address_change.py"
    proc = await asyncio.create_subprocess_exec("unshare", "--net", sys.executable, str(script),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    if proc.returncode != 0 and b"Operation not permitted" in err:
        pytest.skip("no permission to create a network namespace here")
    assert proc.returncode == 0, err.decode()[-3000:]
    took, logged = out.decode().split()
    assert logged == "True"
    assert float(took) < 5, "an Update right after the address appeared, not the one 108 s later"


async def test_a_network_change_sends_exactly_one_update_at_once(server: LwM2MServer) -> None:
    from agent.client.netwatch import NetworkEvent

    client = LwM2MClient(build_tree(server.uri), client_settings(server.uri, lifetime=60))
    await client.start()
    try:
        await server.wait_registered(ENDPOINT)
        assert client.engine is not None
        before = server.registration(ENDPOINT).updates
        client.engine.network_changed([NetworkEvent("address", True, "192.0.2.1", 2)])
        await server.wait_for(lambda: server.registration(ENDPOINT).updates == before + 1, 2)
        await asyncio.sleep(1.0)
        assert server.registration(ENDPOINT).updates == before + 1, "one Update, not a burst"
    finally:
        await client.stop(deregister=False)
