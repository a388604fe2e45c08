"""A simulated fleet: N agents in one process register to the emulator and answer one read each.

Prints registrations per second, the time until all are registered, the reads, and the RSS per
agent (RSS growth of the process divided by N). By default the emulator (LwM2M server + Inventory)
runs in the same process, as ``lwm2m-agent simulate --devices N`` does.

    .venv/bin/python bench/fleet.py [--devices 10000] [--bootstrap]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from agent.client.defaults import default_tree
from agent.core.formats import ContentFormat
from agent.models import shipped_models
from agent.simulator.emulator import Emulator, EmulatorSettings
from agent.simulator.fleet import FleetSettings, SimulatedFleet
from agent.tree import ObjectTree


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--bootstrap", action="store_true", help="bootstrap every agent first (as SIM devices do)")
    args = parser.parse_args()

    models = shipped_models()
    emulator = Emulator(models, EmulatorSettings(lwm2m_port=0, api_port=0, bootstrap_port=0, lifetime=300,
                                                 read_device_info=False))
    await emulator.start()
    assert emulator.server is not None and emulator.bootstrap is not None
    server = emulator.server
    registered_at: list[float] = []
    server.on_register.append(lambda reg: registered_at.append(time.monotonic()))
    base_rss = rss_mb()

    async def tree_for(index: int, endpoint: str) -> ObjectTree:
        return default_tree(server.uri, lifetime=300, simulate=True, models=models)

    fleet = SimulatedFleet(FleetSettings(
        count=args.devices, endpoint_prefix="fleet", server_uri=server.uri,
        bootstrap_uri=emulator.bootstrap.uri if args.bootstrap else None, lifetime=300,
    ), tree_for)
    started = time.monotonic()
    await fleet.start()
    await fleet.wait_registered(600)
    all_registered = time.monotonic() - started
    rss_after = rss_mb()

    read_started = time.monotonic()
    semaphore = asyncio.Semaphore(200)
    ok = 0

    async def read_one(index: int) -> None:
        nonlocal ok
        async with semaphore:
            endpoint = f"fleet-{index:05d}" if args.devices > 1 else "fleet"
            result = await server.read(endpoint, "/3/0/0", ContentFormat.TEXT)
            ok += result.code == "2.05"

    await asyncio.gather(*(read_one(i) for i in range(args.devices)))
    read_elapsed = time.monotonic() - read_started
    print(f"agents: {args.devices} in one process with the emulator ({'bootstrap + ' if args.bootstrap else ''}"
          f"register), lifetime 300 s")
    print(f"all registered in {all_registered:.1f} s = {args.devices / all_registered:,.0f} registrations/s")
    print(f"reads: {ok}/{args.devices} answered 2.05 in {read_elapsed:.1f} s = {args.devices / read_elapsed:,.0f}/s")
    print(f"RSS: {rss_after:.0f} MB after start ({(rss_after - base_rss) * 1024 / args.devices:.1f} KB per agent, "
          f"emulator and interpreter {base_rss:.0f} MB)")
    stop_started = time.monotonic()
    await fleet.stop(deregister=True)
    print(f"de-registered all in {time.monotonic() - stop_started:.1f} s; "
          f"{len(server.registrations)} registrations left")
    await emulator.close()


if __name__ == "__main__":
    asyncio.run(main())
