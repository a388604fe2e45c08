"""Notifications per second from one agent.

The agent runs in a child process (this script with ``--agent``) serving K temperature instances
whose values change as fast as the event loop allows; the parent is the LwM2M server, observes all
K with no attributes (every change notifies) and counts what arrives. The agent reports what it
sent; the two differ by what the loopback socket dropped (notifications are mostly NON).

    .venv/bin/python bench/notify_throughput.py [--observations 100] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time

from agent.core.formats import ContentFormat
from agent.models import shipped_models
from agent.simulator.lwm2m_server import LwM2MServer


async def agent_main(server_uri: str, count: int, seconds: float) -> None:
    from agent.client.agent import ClientSettings, LwM2MClient
    from agent.client.defaults import security_instance, server_instance
    from agent.client.registration import RegistrationSettings
    from agent.tree import ObjectInstance, ObjectTree, StoredValue

    models = shipped_models()
    tree = ObjectTree(models)
    tree.add_object(models.object(0))
    tree.add_instance(0, security_instance(server_uri))
    tree.add_object(models.object(1))
    tree.add_instance(1, server_instance(300))
    tree.add_object(models.object(3303))
    values = [StoredValue(0.0) for _ in range(count)]
    for i, value in enumerate(values):
        tree.add_instance(3303, ObjectInstance(i, {5700: value}))
    client = LwM2MClient(tree, ClientSettings(RegistrationSettings(server_uri, "notify-bench", lifetime=300),
                                              bind_host="127.0.0.1"))
    await client.start()
    registry = client.session.observations
    while len(registry) < count:
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    n = 0
    while time.perf_counter() - started < seconds:
        for value in values:
            n += 1
            value.set(float(n))
        await asyncio.sleep(0)
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.2)
    sent = registry.notifications_sent
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"agent: {sent} notifications sent in {elapsed:.2f} s = {sent / elapsed:,.0f}/s "
          f"({n} value changes); max RSS {rss:.1f} MB", flush=True)
    await client.stop(deregister=False)


async def server_main(count: int, seconds: float) -> None:
    server = LwM2MServer(shipped_models(), host="127.0.0.1")
    await server.start()
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--agent", server.uri, "--observations", str(count), "--seconds", str(seconds),
        stdout=asyncio.subprocess.PIPE)
    try:
        await server.wait_registered("notify-bench", 20)
        observations = [await server.observe("notify-bench", f"/3303/{i}/5700", ContentFormat.TEXT)
                        for i in range(count)]
        received = 0

        async def drain(obs) -> None:  # type: ignore[no-untyped-def]
            nonlocal received
            async for _ in obs:
                received += 1

        tasks = [asyncio.create_task(drain(o)) for o in observations]
        assert child.stdout is not None
        line = (await child.stdout.readline()).decode().strip()
        for task in tasks:
            task.cancel()
        print(f"observations: {count}, value changes as fast as the loop allows for {seconds:.0f} s")
        print(line)
        print(f"server: {received} notifications received")
    finally:
        await child.wait()
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", metavar="SERVER_URI")
    parser.add_argument("--observations", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if args.agent:
        asyncio.run(agent_main(args.agent, args.observations, args.seconds))
    else:
        asyncio.run(server_main(args.observations, args.seconds))
