"""A real ``lwm2m-agent run`` under fire: seeded mutated CoAP datagrams from its server's socket and
from a stranger's (127.0.0.2). It must stay registered, answer reads correctly, log little, print
no traceback, and not grow. ``bench/hostile.py`` is the long version of this run."""

from __future__ import annotations

import asyncio
import re

from support import CLI

from agent.core.formats import ContentFormat
from agent.simulator.hostile import AgentProcess, fuzzed_datagrams, rss_kib, send_paced, server_socket_sender, v6
from agent.simulator.lwm2m_server import LwM2MServer

EP = "fuzzed-agent"
DATAGRAMS_PER_SOURCE = 2500


async def start_agent(server: LwM2MServer) -> AgentProcess:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", "--server", server.uri, "--endpoint", EP, "--bind", "127.0.0.1", "--simulate-hardware",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    agent = AgentProcess(proc)
    await server.wait_registered(EP, timeout=30)
    return agent


async def test_fuzzed_datagrams_from_the_server_and_a_stranger(server: LwM2MServer) -> None:
    agent = await start_agent(server)
    try:
        manufacturer = (await server.read(EP, "/3/0/0", ContentFormat.TEXT)).value()
        short_server_id = (await server.read(EP, "/1/0/0", ContentFormat.TEXT)).value()
        agent_port = server.registration(EP).remote.sockaddr[1]  # type: ignore[attr-defined]
        rss_before = rss_kib(agent.proc.pid)
        lines_before = len(agent.lines)

        from_server = server_socket_sender(server.context_required)
        loop = asyncio.get_running_loop()
        stranger, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.2", 0))
        try:
            await asyncio.wait_for(asyncio.gather(
                send_paced(lambda d: from_server(d, v6("127.0.0.1", agent_port)),
                           fuzzed_datagrams(seed=7), DATAGRAMS_PER_SOURCE, burst=20, pause=0.01),
                send_paced(lambda d: stranger.sendto(d, ("127.0.0.1", agent_port)),
                           fuzzed_datagrams(seed=8), DATAGRAMS_PER_SOURCE, burst=20, pause=0.01),
            ), 60)
        finally:
            stranger.close()
        await asyncio.sleep(1.0)

        assert agent.proc.returncode is None, "the agent is still running"
        assert server.is_registered(EP)
        assert (await server.read(EP, "/3/0/0", ContentFormat.TEXT)).value() == manufacturer
        assert (await server.read(EP, "/1/0/0", ContentFormat.TEXT)).value() == short_server_id
        assert (await server.read(EP, "/3303/0/5700", ContentFormat.TEXT)).ok
        log = "".join(agent.lines[lines_before:])
        assert "Traceback" not in log, log[:3000]
        assert "5.00" not in log, log[:3000]
        assert len(agent.lines) - lines_before < 40, log[:3000]
        grown_mib = (rss_kib(agent.proc.pid) - rss_before) / 1024
        assert grown_mib < 30, f"RSS grew by {grown_mib:.1f} MiB"
    finally:
        await agent.stop()
    log = "".join(agent.lines)
    assert "Traceback" not in log
    # The last summary lines, written at exit, count every malformed request by its answer.
    summaries = [line for line in agent.lines if "requests answered with an error" in line]
    assert summaries and "5.00" not in "".join(summaries), summaries
    # The stranger's datagrams reached the agent (and were counted), not a full socket buffer.
    counted = re.findall(r"\('127\.0\.0\.2', \d+\) x(\d+)", log)
    assert counted and sum(map(int, counted)) > DATAGRAMS_PER_SOURCE // 2, counted
