"""Read latency over loopback: server -> agent -> server, for one resource.

The agent runs as its own process (``lwm2m-agent run``), as in production; this process is the
LwM2M server. The peer is a bare aiocoap resource in a process of its own answering the same
request, so the ratio shows what the LwM2M layer adds to aiocoap's own round trip.

    .venv/bin/python bench/read_latency.py [--reads 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from aiocoap import GET, Context, Message

from agent.core.formats import ContentFormat
from agent.core.path import Path
from agent.models import shipped_models
from agent.simulator.lwm2m_server import LwM2MServer

PEER = r"""
import asyncio, sys, aiocoap, aiocoap.resource as r
class Value(r.Resource):
    async def render_get(self, request):
        return aiocoap.Message(payload=b"21.5", content_format=0)
async def main():
    site = r.Site(); site.add_resource(["3303", "0", "5700"], Value())
    ctx = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", int(sys.argv[1])), transports=["udp6"])
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


async def time_requests(send, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    for _ in range(200):
        await send()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await send()
        samples.append(time.perf_counter() - started)
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=3000)
    args = parser.parse_args()

    server = LwM2MServer(shipped_models(), host="127.0.0.1")
    await server.start()
    agent = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agent.cli", "run", "--server", server.uri, "--endpoint", "bench",
        "--bind", "127.0.0.1", stderr=asyncio.subprocess.DEVNULL)
    peer = await asyncio.create_subprocess_exec(sys.executable, "-c", PEER, "47999", stdout=asyncio.subprocess.PIPE)
    try:
        await server.wait_registered("bench", 20)
        assert peer.stdout is not None
        await peer.stdout.readline()
        path = Path(3303, 0, 5700)

        async def lwm2m_read() -> None:
            result = await server.read("bench", path, ContentFormat.TEXT)
            assert result.code == "2.05"

        client = await Context.create_client_context(transports=["udp6"])
        probe = Message(code=GET, uri="coap://127.0.0.1:47999/3303/0/5700")
        remote = (await client.request(probe).response).remote

        async def peer_read() -> None:
            msg = Message(code=GET, uri_path=("3303", "0", "5700"))
            msg.remote = remote
            await client.request(msg).response

        lw = await time_requests(lwm2m_read, args.reads)
        bare = await time_requests(peer_read, args.reads)
        lw_med, lw_p99 = summary(lw)
        bare_med, bare_p99 = summary(bare)
        print(f"reads: {args.reads} each, text/plain, loopback, agent and peer in their own processes")
        print(f"lwm2m-agent read /3303/0/5700: median {lw_med:.3f} ms, p99 {lw_p99:.3f} ms")
        print(f"bare aiocoap GET (peer):       median {bare_med:.3f} ms, p99 {bare_p99:.3f} ms")
        print(f"ratio agent/peer (median): {lw_med / bare_med:.2f}")
        await client.shutdown()
    finally:
        for proc in (agent, peer):
            proc.terminate()
            await proc.wait()
        await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
