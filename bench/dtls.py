"""DTLS cost, in one run: handshake time, and read latency over DTLS next to plain UDP.

Two agents run as their own processes (``lwm2m-agent run``): one registered over plain CoAP, one over
DTLS PSK through the emulator's DTLS front. This process is the LwM2M server for both. Reads of the
same resource alternate between the two agents, so both figures come from the same minutes of the
same machine and their ratio is what DTLS adds. The handshake time is the time from a fresh
connection's first request to its response (ClientHello ... Finished plus one CoAP round trip), with
aiocoap's tinydtls client against the front, minus nothing.

    .venv/bin/python bench/dtls.py [--reads 2000] [--handshakes 100]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path as FsPath

from aiocoap import GET, Context, Message

from agent.core.formats import ContentFormat
from agent.core.path import Path
from agent.models import shipped_models
from agent.simulator.dtls_front import DtlsFront
from agent.simulator.lwm2m_server import LwM2MServer

IDENTITY = "d-bench00000000000000"
KEY = os.urandom(16)


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000


async def handshakes(front: DtlsFront, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        ctx = await Context.create_client_context(transports=["tinydtls"])
        ctx.client_credentials.load_from_dict({f"{front.uri}/*": {"dtls": {"psk": KEY, "client-identity":
                                                                           IDENTITY.encode()}}})
        started = time.perf_counter()
        # Any CoAP answer ends the measurement; the plain server answers 4.04 for an unknown path.
        await ctx.request(Message(code=GET, uri=f"{front.uri}/bench")).response
        samples.append(time.perf_counter() - started)
        await ctx.shutdown()
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--handshakes", type=int, default=100)
    args = parser.parse_args()

    server = LwM2MServer(shipped_models(), host="127.0.0.1")
    await server.start()
    front = DtlsFront(("127.0.0.1", server.port), {IDENTITY: KEY}.get)
    await front.start()
    tmp = FsPath(tempfile.mkdtemp())
    key_file = tmp / "device.key"
    key_file.write_text(base64.b64encode(KEY).decode())
    key_file.chmod(0o600)
    common = ["--bind", "127.0.0.1", "--lifetime", "300"]
    plain = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agent.cli", "run", "--server", server.uri, "--endpoint", "plain", *common,
        stderr=asyncio.subprocess.DEVNULL)
    secure = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agent.cli", "run", "--server", front.uri, "--endpoint", "dtls", "--psk-identity",
        IDENTITY, "--psk-key-file", str(key_file), *common, stderr=asyncio.subprocess.DEVNULL)
    try:
        await server.wait_registered("plain", 20)
        await server.wait_registered("dtls", 20)
        path = Path(3303, 0, 5700)
        for _ in range(200):
            await server.read("plain", path, ContentFormat.TEXT)
            await server.read("dtls", path, ContentFormat.TEXT)
        samples: dict[str, list[float]] = {"plain": [], "dtls": []}
        for _ in range(args.reads):
            for endpoint in ("plain", "dtls"):
                started = time.perf_counter()
                result = await server.read(endpoint, path, ContentFormat.TEXT)
                samples[endpoint].append(time.perf_counter() - started)
                assert result.code == "2.05"
        shakes = await handshakes(front, args.handshakes)
        p_med, p_p99 = summary(samples["plain"])
        d_med, d_p99 = summary(samples["dtls"])
        h_med, h_p99 = summary(shakes)
        print(f"reads: {args.reads} per agent, alternating, text/plain, loopback, agents in their own processes")
        print(f"read over plain UDP: median {p_med:.3f} ms, p99 {p_p99:.3f} ms")
        print(f"read over DTLS PSK:  median {d_med:.3f} ms, p99 {d_p99:.3f} ms (through the emulator's DTLS front)")
        print(f"ratio DTLS/plain (median): {d_med / p_med:.2f}")
        print(f"DTLS handshake + first request ({args.handshakes} fresh sessions): median {h_med:.2f} ms, "
              f"p99 {h_p99:.2f} ms")
    finally:
        for proc in (plain, secure):
            proc.terminate()
            await proc.wait()
        await front.close()
        await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
