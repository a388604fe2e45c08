"""A hostile network against one agent: what it costs and whether it stays correct.

The agent runs as a subprocess (``lwm2m-agent run --simulate-hardware``, a profile with
``observe_keepalive = 10`` and ``upload_timeout = 10`` so the bench needs not wait ten minutes);
this process is its LwM2M server and the attacker. Three runs, one after the other:

1. 100,000 seeded mutated CoAP datagrams, half from the server's own socket (the agent must answer
   each with its code), half from a stranger at 127.0.0.2 (the agent must ignore them);
2. 10,000 Observes from the server (the agent keeps at most ``max_observations``, 1,000), then the
   server forgets them all without telling the agent (its next confirmable notification gets RST);
3. 100 Block1 uploads of 1 MiB announced (Size1), each abandoned 1 KiB short of its end.

Printed per run: the agent's RSS before, at its peak (sampled every 0.25 s from /proc), right after
and after settling; the log lines it wrote, tracebacks, 5.00 answers; and that it is still
registered and reads correctly.

    .venv/bin/python bench/hostile.py [--datagrams 100000] [--observes 10000] [--uploads 100] [--settle 65]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiocoap import Code, Message
from aiocoap.optiontypes import BlockOption

from agent.core.formats import ContentFormat
from agent.models import shipped_models
from agent.simulator.hostile import AgentProcess, fuzzed_datagrams, send_paced, server_socket_sender, v6
from agent.simulator.lwm2m_server import ClientError, LwM2MServer, Observation

EP = "hostile-bench"  # the profile's endpoint; --endpoint fixes it
PROFILE = """\
[server]
uri = "coap://127.0.0.1:5683"
endpoint = "hostile-bench-{machine_id}"

[objects.3.0]
system = "device"

[objects.3303.0.resources]
5700 = { kind = "simulated", source = "random_walk", minimum = -10.0, maximum = 40.0, step = 0.5, seed = 1, \
interval = 1.0 }

[limits]
observe_keepalive = 10
upload_timeout = 10
"""


async def measured(name: str, agent: AgentProcess, server: LwM2MServer, attack: Callable[[], Awaitable[str]],
                   settle: float) -> None:
    before = agent.rss_mb()
    lines_before = len(agent.lines)
    peak = before
    done = False

    async def sample() -> None:
        nonlocal peak
        while not done:
            peak = max(peak, agent.rss_mb())
            await asyncio.sleep(0.25)

    sampler = asyncio.get_running_loop().create_task(sample())
    started = time.perf_counter()
    detail = await attack()
    took = time.perf_counter() - started
    after = agent.rss_mb()
    await asyncio.sleep(settle)
    done = True
    await sampler
    settled = agent.rss_mb()
    log = agent.lines[lines_before:]
    text = "".join(log)
    try:
        reads_ok = server.is_registered(EP) and (await server.read(EP, "/3/0/0", ContentFormat.TEXT)).ok
    except ClientError as exc:
        print(f"  read after the run: {exc}; registered: {server.is_registered(EP)}")
        reads_ok = False
    print(f"\n{name} ({took:.1f} s): {detail}")
    print(f"  RSS {before:.1f} MB before, peak {peak:.1f} MB, {after:.1f} MB right after, "
          f"{settled:.1f} MB {settle:.0f} s later (growth {settled - before:+.1f} MB)")
    print(f"  log: {len(log)} lines, {len(text.encode())} bytes; tracebacks: {text.count('Traceback')}; "
          f"still registered and reading: {reads_ok}")


async def fuzz(server: LwM2MServer, agent_port: int, count: int) -> str:
    from_server = server_socket_sender(server.context_required)
    loop = asyncio.get_running_loop()
    stranger, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.2", 0))
    try:
        await asyncio.gather(
            send_paced(lambda d: from_server(d, v6("127.0.0.1", agent_port)), fuzzed_datagrams(1), count // 2,
                       burst=20, pause=0.005),
            send_paced(lambda d: stranger.sendto(d, ("127.0.0.1", agent_port)), fuzzed_datagrams(2), count // 2,
                       burst=20, pause=0.005))
    finally:
        stranger.close()
    return f"{count:,} datagrams, {count // 2:,} from the server's socket and {count // 2:,} from 127.0.0.2"


async def observe_flood(server: LwM2MServer, count: int) -> str:
    kept: list[Observation] = []
    plain = failed = 0
    for start in range(0, count, 200):
        results = await asyncio.gather(*(server.observe(EP, "/3/0/0") for _ in range(start, min(count, start + 200))),
                                       return_exceptions=True)
        for obs in results:
            if isinstance(obs, Observation) and obs.notifying:
                kept.append(obs)
            elif isinstance(obs, Observation):
                plain += 1
            else:
                failed += 1
    for obs in kept:
        await obs.cancel("rst")  # the server forgets: the agent learns it from its next CON notification
    # The server's aiocoap still acknowledges the first notification after the cancel, and RSTs the
    # next: after two keepalives (10 s each in this profile) the agent has dropped them all.
    await asyncio.sleep(23)
    again = await asyncio.gather(*(server.observe(EP, "/3/0/0") for _ in range(len(kept))))
    kept_again = sum(1 for obs in again if obs.notifying)
    for obs in again:
        await obs.cancel("rst")
    return (f"{count:,} Observes of /3/0/0 (never changes): {len(kept):,} kept, {plain:,} answered as plain reads, "
            f"{failed} failed; the server forgot them (RST to the keepalive notification); 23 s later "
            f"{kept_again:,} of {len(kept):,} new Observes kept")


async def abandoned_uploads(server: LwM2MServer, count: int) -> str:
    remote = server.registration(EP).remote
    first_codes: collections.Counter[str] = collections.Counter()
    blocks_sent = 0

    async def block(i: int, num: int, payload: bytes) -> Message:
        msg = Message(code=Code.PUT, uri_path=("3303", "0", "5750"), payload=payload)
        msg.opt.content_format = ContentFormat.TEXT
        msg.opt.uri_query = (f"upload={i}",)
        msg.opt.block1 = BlockOption.BlockwiseTuple(num, True, 6)
        msg.opt.size1 = 1 << 20
        msg.remote = remote
        return await asyncio.wait_for(server.context_required.request(msg, handle_blockwise=False).response, 10)

    for i in range(count):
        first = await block(i, 0, b"x" * 1024)
        first_codes[first.code.dotted] += 1
        blocks_sent += 1
        if first.code != Code.CONTINUE:
            continue  # a client gives up on 4.13
        for num in range(1, 1023):
            answer = await block(i, num, b"x" * 1024)
            blocks_sent += 1
            if answer.code != Code.CONTINUE:
                break
    codes = ", ".join(f"{code} x{n}" for code, n in sorted(first_codes.items()))
    return (f"{count} uploads announcing 1 MiB, abandoned at 1023 KiB: first blocks answered {codes}; "
            f"{blocks_sent:,} blocks")


async def main(args: argparse.Namespace) -> None:
    server = LwM2MServer(shipped_models(), host="127.0.0.1", port=0, request_timeout=10.0)
    await server.start()
    with tempfile.TemporaryDirectory() as folder:
        profile = Path(folder) / "hostile.toml"
        profile.write_text(PROFILE)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agent.cli", "run", "--profile", str(profile), "--server", server.uri,
            "--endpoint", EP, "--bind", "127.0.0.1", "--simulate-hardware", stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        agent = AgentProcess(proc)
        try:
            await server.wait_registered(EP, 30)
            await asyncio.sleep(2)
            port = server.registration(EP).remote.sockaddr[1]  # type: ignore[attr-defined]
            print(f"agent pid {proc.pid}, RSS {agent.rss_mb():.1f} MB when registered")
            settle = args.settle
            await measured("1. fuzzed datagrams", agent, server, lambda: fuzz(server, port, args.datagrams), settle)
            await measured("2. observations", agent, server, lambda: observe_flood(server, args.observes), settle)
            await measured("3. abandoned uploads", agent, server, lambda: abandoned_uploads(server, args.uploads),
                           settle)
        except ClientError as exc:
            print(f"the agent stopped answering: {exc}")
        finally:
            await agent.stop()
            await server.stop()
    summaries = [line.split(": ", 2)[-1].strip() for line in agent.lines if "agent.client.incidents" in line]
    answered: collections.Counter[str] = collections.Counter()
    for line in summaries:
        for code, n in re.findall(r"(\d\.\d\d|from a stranger|format error \(RST\)|not CoAP) x(\d+)", line):
            answered[code] += int(n)
    print("\nover the whole run, from the agent's summary lines: "
          + ", ".join(f"{k} {v:,}" for k, v in sorted(answered.items())))
    print(f"whole log: {len(agent.lines)} lines, tracebacks: {''.join(agent.lines).count('Traceback')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datagrams", type=int, default=100_000)
    parser.add_argument("--observes", type=int, default=10_000)
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--settle", type=float, default=65.0,
                        help="seconds after each run before the last RSS reading (the agent trims once a minute)")
    asyncio.run(main(parser.parse_args()))
