"""1,000 observed resources in one agent, with pmin/pmax honoured, seen from the server.

The agent runs in a process of its own (this script with ``--agent``), built the way a user builds
one: from a device profile (generated here) with N Temperature instances whose 5700 is a simulated
random walk. Half the sources are *fast* (they change every 0.2 s, so pmin decides when to notify),
half are *slow* (they do not change during the run, so pmax decides). The parent is the LwM2M
server: it sets pmin/pmax once on object 3303 (the agent applies LwM2M attribute inheritance),
observes every /3303/i/5700, and records when each notification arrives.

Printed: notifications per second, the agent's CPU % and RSS (from /proc/<pid>/stat and status),
and per group the gaps between consecutive notifications of one observation (min, median, p99,
max) with the count of gaps outside [pmin, pmax] beyond a small tolerance for timer jitter.

    .venv/bin/python bench/observe_many.py [--observations 1000] [--seconds 30] [--pmin 1] [--pmax 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agent.core.formats import ContentFormat
from agent.models import shipped_models
from agent.simulator.lwm2m_server import LwM2MServer, Observation

ENDPOINT = "observe-bench"
FAST_INTERVAL = 0.2
SLOW_INTERVAL = 3600.0
TOLERANCE = 0.25  # seconds of timer and scheduling jitter allowed around pmin and pmax


def write_profile(folder: Path, count: int) -> Path:
    lines = ['[server]', 'uri = "coap://127.0.0.1:5683"', f'endpoint = "{ENDPOINT}"', "lifetime = 300", "",
             "[objects.3.0.resources]", '0 = "bench"', '16 = "U"', ""]
    for i in range(count):
        interval = FAST_INTERVAL if i % 2 == 0 else SLOW_INTERVAL
        lines.append(f"[objects.3303.{i}.resources]")
        lines.append(f'5700 = {{ kind = "simulated", source = "random_walk", minimum = -10.0, maximum = 40.0, '
                     f'step = 0.5, seed = {i}, interval = {interval} }}')
    path = folder / "observe-many.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


# ---- the agent process -----------------------------------------------------------------------------

async def agent_main(profile_path: str, server_uri: str) -> None:
    from agent.client.agent import LwM2MClient
    from agent.profiles import build_agent_tree, close_tree, load_profile, start_tree

    profile = load_profile(profile_path)
    tree = await build_agent_tree(profile, simulate=True)
    await start_tree(tree)
    reg = profile.server.registration_settings(server_uri=server_uri)
    client = LwM2MClient(tree, profile.server.client_settings(reg, bind_host="127.0.0.1"))
    await client.start()
    # Run until the parent closes our stdin.
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    sent = client.session.observations.notifications_sent
    print(f"agent: {sent} notifications sent", flush=True)
    await client.stop(deregister=False)
    await close_tree(tree)


# ---- the server side ---------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def describe(gaps: list[float]) -> str:
    if not gaps:
        return "no gaps"
    ordered = sorted(gaps)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"{len(gaps)} gaps: min {ordered[0]:.3f} s, median {statistics.median(ordered):.3f} s, "
            f"p99 {p99:.3f} s, max {ordered[-1]:.3f} s")


async def server_main(count: int, seconds: float, pmin: int, pmax: int) -> None:
    server = LwM2MServer(shipped_models(), host="127.0.0.1", request_timeout=10.0)
    await server.start()
    with tempfile.TemporaryDirectory() as folder:
        profile = write_profile(Path(folder), count)
        child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--agent", str(profile), server.uri,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        try:
            started = time.perf_counter()
            await server.wait_registered(ENDPOINT, 60)
            print(f"agent pid {child.pid}: {count} resources loaded from a profile and registered in "
                  f"{time.perf_counter() - started:.2f} s; RSS {rss_mb(child.pid):.1f} MB")
            result = await server.write_attributes(ENDPOINT, "/3303", pmin=pmin, pmax=pmax)
            assert result.ok, result.code
            arrivals: list[list[float]] = [[] for _ in range(count)]
            started = time.perf_counter()
            observations: list[Observation] = []
            for i in range(count):
                obs = await server.observe(ENDPOINT, f"/3303/{i}/5700", ContentFormat.TEXT)
                assert obs.first is not None and obs.first.ok, obs.first
                observations.append(obs)
            print(f"{count} observations established in {time.perf_counter() - started:.2f} s")

            async def drain(index: int, obs: Observation) -> None:
                async for _ in obs:
                    arrivals[index].append(time.monotonic())

            tasks = [asyncio.create_task(drain(i, obs)) for i, obs in enumerate(observations)]
            await asyncio.sleep(pmax + 1)  # let every observation reach its steady rhythm
            for times in arrivals:
                times.clear()
            cpu_before, wall_before = cpu_seconds(child.pid), time.monotonic()
            own_before = resource.getrusage(resource.RUSAGE_SELF)
            await asyncio.sleep(seconds)
            cpu_after, wall_after = cpu_seconds(child.pid), time.monotonic()
            own_after = resource.getrusage(resource.RUSAGE_SELF)
            rss = rss_mb(child.pid)
            for task in tasks:
                task.cancel()
            window = wall_after - wall_before
            received = [[t for t in times if t <= wall_after] for times in arrivals]
            total = sum(len(times) for times in received)
            fast = [b - a for times in received[0::2] for a, b in itertools.pairwise(times)]
            slow = [b - a for times in received[1::2] for a, b in itertools.pairwise(times)]
            every = fast + slow
            early = sum(1 for gap in every if gap < pmin - TOLERANCE)
            late = sum(1 for gap in every if gap > pmax + TOLERANCE)
            silent = sum(1 for times in received if len(times) < 2)
            own_cpu = (own_after.ru_utime + own_after.ru_stime) - (own_before.ru_utime + own_before.ru_stime)
            print(f"window {window:.1f} s, pmin={pmin} pmax={pmax}, {count // 2 + count % 2} fast sources "
                  f"(change every {FAST_INTERVAL} s), {count // 2} slow (no change)")
            print(f"notifications received: {total} = {total / window:,.0f}/s "
                  f"(expected ~{(count / 2) / pmin + (count / 2) / pmax:,.0f}/s)")
            print(f"agent: CPU {100 * (cpu_after - cpu_before) / window:.1f} % of one core, RSS {rss:.1f} MB")
            print(f"server (this process): CPU {100 * own_cpu / window:.1f} % of one core")
            print(f"fast (pmin decides): {describe(fast)}")
            print(f"slow (pmax decides): {describe(slow)}")
            print(f"gaps below pmin-{TOLERANCE}: {early}; above pmax+{TOLERANCE}: {late}; "
                  f"observations with < 2 notifications: {silent}")
            for obs in observations:
                with contextlib.suppress(Exception):
                    await obs.cancel()
        finally:
            assert child.stdin is not None
            child.stdin.close()
            assert child.stdout is not None
            line = (await child.stdout.readline()).decode().strip()
            if line:
                print(line)
            await child.wait()
            await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", nargs=2, metavar=("PROFILE", "SERVER_URI"))
    parser.add_argument("--observations", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pmin", type=int, default=1)
    parser.add_argument("--pmax", type=int, default=5)
    args = parser.parse_args()
    if args.agent:
        asyncio.run(agent_main(*args.agent))
    else:
        asyncio.run(server_main(args.observations, args.seconds, args.pmin, args.pmax))
