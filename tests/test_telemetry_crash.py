"""kill -9 at random moments loses no reading the queue acknowledged: a real subprocess queues and
uploads to the emulator's Harvest entry point, is killed and restarted again and again (with the receiver
down for a while too), and every acknowledged reading arrives, each exactly once after de-duplication."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import socket
import sys
from pathlib import Path

from agent.simulator.cloud.config import CloudConfig
from agent.simulator.cloud.runner import CloudPorts, start_cloud
from agent.simulator.cloud.store import CloudStore

WORKER = Path(__file__).with_name("queue_worker.py")
ROOT = Path(__file__).resolve().parents[1]


async def run_worker(state_dir: Path, url: str, run: int, count: int, kill_after: float | None) -> list[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), str(state_dir), url, str(run), str(count), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    if kill_after is None:
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        return out.decode().splitlines()
    assert proc.stdout is not None
    first = await asyncio.wait_for(proc.stdout.readline(), 60)  # started: it queues (slow on a loaded machine)
    await asyncio.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == -signal.SIGKILL
    return (first + out).decode().splitlines()


async def test_kill_9_while_queueing_and_uploading_loses_no_acknowledged_reading(tmp_path: Path) -> None:
    rng = random.Random(7)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    config, store = CloudConfig(), CloudStore()
    running = await start_cloud(config, store, ports=CloudPorts(harvest=port))
    acknowledged: set[tuple[int, int]] = set()
    try:
        for run in range(6):
            if run == 2:  # the receiver goes away for two runs: readings pile up in the queue
                await running.close()
            if run == 4:
                running = await start_cloud(config, store, ports=CloudPorts(harvest=port))
            lines = await run_worker(tmp_path, url, run, 100_000, kill_after=rng.uniform(0.05, 1.0))
            acks = {(int(p[1]), int(p[2])) for p in (ln.split() for ln in lines) if len(p) == 3 and p[0] == "ACK"}
            assert acks, f"run {run} acknowledged nothing before the kill"
            acknowledged |= acks
        assert len(acknowledged) > 100
        lines = await run_worker(tmp_path, url, 99, 0, kill_after=None)
        assert lines[-1] == "DRAINED"
    finally:
        await running.close()
    entries, _ = store.data_entries("Subscriber", "001010000000001", ascending=True, limit=10_000_000)
    readings = [json.loads(e.content) for e in entries]
    by_id: dict[str, tuple[int, int]] = {}
    for reading in readings:
        by_id.setdefault(reading["id"], (reading["run"], reading["n"]))
    received = set(by_id.values())
    assert len(received) == len(by_id)  # one id, one reading
    missing = acknowledged - received
    assert not missing, f"{len(missing)} acknowledged readings never arrived, e.g. {sorted(missing)[:5]}"
    # Each run's readings arrived in the order they were queued (ids de-duplicated).
    for run in range(6):
        ns = [n for (r, n) in by_id.values() if r == run]
        assert ns == sorted(ns)
    store.close()
