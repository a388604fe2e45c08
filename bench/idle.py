"""An idle agent: time from process start to registered, then CPU and RSS while nothing happens.

Runs ``lwm2m-agent run`` (the built-in object set) against the local LwM2M server in this process,
waits for the Register, then samples the agent's /proc for ``--seconds`` with no requests.

    .venv/bin/python bench/idle.py [--seconds 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

from agent.models import shipped_models
from agent.simulator.lwm2m_server import LwM2MServer

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def one_run(server: LwM2MServer, index: int, seconds: float) -> tuple[float, float, float]:
    endpoint = f"idle-{index}"
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agent.cli", "run", "--server", server.uri, "--endpoint", endpoint,
        "--bind", "127.0.0.1", stderr=asyncio.subprocess.DEVNULL)
    try:
        await server.wait_registered(endpoint, 30)
        to_registered = time.monotonic() - started
        await asyncio.sleep(1.0)
        cpu_before = cpu_seconds(proc.pid)
        await asyncio.sleep(seconds)
        cpu = (cpu_seconds(proc.pid) - cpu_before) / seconds * 100
        return to_registered, cpu, rss_mb(proc.pid)
    finally:
        proc.terminate()
        await proc.wait()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    server = LwM2MServer(shipped_models(), host="127.0.0.1")
    await server.start()
    results = [await one_run(server, i, args.seconds) for i in range(args.runs)]
    await server.stop()
    starts, cpus, rsss = zip(*results, strict=True)
    print(f"runs: {args.runs}, idle window {args.seconds:.0f} s each, built-in object set")
    print(f"process start to registered: median {statistics.median(starts) * 1000:.0f} ms "
          f"(min {min(starts) * 1000:.0f}, max {max(starts) * 1000:.0f})")
    print(f"idle CPU: median {statistics.median(cpus):.2f} %")
    print(f"RSS: median {statistics.median(rsss):.1f} MB")


if __name__ == "__main__":
    asyncio.run(main())
