"""Recovery times, as a server sees them: after a 45 s blackout, and after a server restart.

One agent runs as its own process (``lwm2m-agent run``, lifetime 30 s) behind the test suite's
fault-injecting UDP proxy (``tests/udp_proxy.py``) before the local LwM2M server. Each blackout run
waits a random time (so the outage starts at a random phase of the registration cycle), drops every
datagram for 45 s -- longer than the server keeps a 30 s registration, so the server expires it, as
in issue #11's measurement -- and then times the first answered Read of /3/0/0. Each restart run
stops the server (it forgets every registration) for 10 s at a random phase and times the agent's
return to a readable registration from the moment the server is back.

    .venv/bin/python bench/recovery.py [--runs 10] [--restarts 5] [--blackout 45]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from recovery_harness import agent_behind_proxy, time_to_reachable

LIFETIME = 30


def report(name: str, samples: list[float]) -> None:
    print(f"{name}: median {statistics.median(samples):.1f} s, worst {max(samples):.1f} s, "
          f"best {min(samples):.1f} s ({len(samples)} runs: {', '.join(f'{s:.1f}' for s in samples)})", flush=True)


async def main(runs: int, restarts: int, blackout: float) -> None:
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        async with agent_behind_proxy(Path(tmp), "bench-recovery", lifetime=LIFETIME) as s:
            await s.server.wait_registered("bench-recovery", 30)
            after_blackout: list[float] = []
            for run in range(runs):
                await asyncio.sleep(rng.uniform(0, LIFETIME))
                s.proxy.blackout()
                await asyncio.sleep(blackout)
                s.proxy.restore()
                took = await time_to_reachable(s.server, "bench-recovery", 300)
                after_blackout.append(took)
                print(f"blackout run {run + 1}: reachable {took:.1f} s after the link returned", flush=True)
            after_restart: list[float] = []
            for run in range(restarts):
                await asyncio.sleep(rng.uniform(0, LIFETIME))
                await s.restart_server(down=10.0)
                started = time.monotonic()
                await time_to_reachable(s.server, "bench-recovery", 300)
                after_restart.append(time.monotonic() - started)
                print(f"restart run {run + 1}: re-registered {after_restart[-1]:.1f} s after the server came back",
                      flush=True)
            if s.proc.returncode is not None:
                sys.exit(f"the agent exited: {s.log_text()[-2000:]}")
    if after_blackout:
        report(f"time to reachable after a {blackout:.0f} s blackout (lifetime {LIFETIME} s)", after_blackout)
    if after_restart:
        report(f"time to re-registered after a 10 s server restart (lifetime {LIFETIME} s)", after_restart)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--blackout", type=float, default=45.0)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.restarts, args.blackout))
