"""The durable telemetry queue: enqueue rate, delivery rate to a local HTTP receiver, disk bytes per reading.

- durable enqueue: ``--producers`` tasks each awaiting ``enqueue`` (every call returns only after the commit
  holding its reading, with fsync; concurrent calls share commits), and ``enqueue_many`` in batches of 1,000
  (one commit per batch). A typical reading: ``{"temp":21.53,"hum":48.2,"fan_rpm":1187}``.
- delivery: readings queued, then a Deliverer posts them one request each (keep-alive) to an aiohttp receiver
  answering 201 in another process, as Harvest's HTTP entry point does.
- disk: the database and its WAL after the enqueues and a checkpoint, divided by the readings held.

    .venv/bin/python bench/telemetry_queue.py [--count 100000] [--deliver 5000] [--producers 200]

(Not ``bench/queue.py``: a script of that name shadows the standard library's ``queue`` -- which
concurrent.futures imports -- for every script run from bench/.)
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from aiohttp import web

from agent.telemetry.delivery import Deliverer
from agent.telemetry.harvest import JsonBody, harvest_http
from agent.telemetry.queue import TelemetryQueue
from agent.telemetry.settings import QueueLimits

PAYLOAD = b'{"temp":21.53,"hum":48.2,"fan_rpm":1187}'


async def enqueue_rate(state: Path, count: int, producers: int) -> float:
    queue = TelemetryQueue.in_state_dir(state)
    queue.add_destination("bench", QueueLimits(max_rows=10 * count))
    per = count // producers

    async def produce() -> None:
        for _ in range(per):
            await queue.enqueue("bench", PAYLOAD)

    started = time.perf_counter()
    await asyncio.gather(*(produce() for _ in range(producers)))
    elapsed = time.perf_counter() - started
    await queue.close()
    return per * producers / elapsed


async def batch_rate(state: Path, count: int, batch: int = 1000) -> float:
    queue = TelemetryQueue.in_state_dir(state)
    queue.add_destination("batch", QueueLimits(max_rows=10 * count))
    now = int(time.time() * 1000)
    started = time.perf_counter()
    for _ in range(count // batch):
        await queue.enqueue_many("batch", [(PAYLOAD, now)] * batch)
    elapsed = time.perf_counter() - started
    await queue.close()
    return count // batch * batch / elapsed


def disk_bytes_per_reading(state: Path) -> tuple[float, int]:
    import sqlite3

    db = sqlite3.connect(state / "telemetry.sqlite")
    rows = db.execute("SELECT count(*) FROM readings").fetchone()[0]
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    size = sum(os.path.getsize(p) for p in state.glob("telemetry.sqlite*"))
    return size / rows, rows


def receiver(port: int) -> None:
    async def take(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=201)

    app = web.Application()
    app.router.add_post("/", take)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def delivery_rate(state: Path, count: int, port: int) -> float:
    queue = TelemetryQueue.in_state_dir(state)
    queue.add_destination("http")
    await queue.enqueue_many("http", [(PAYLOAD, int(time.time() * 1000))] * count)
    deliverer = Deliverer(queue, "http", harvest_http(f"http://127.0.0.1:{port}/", JsonBody()),
                          retry_initial=0.05, retry_max=0.2)
    started = time.perf_counter()
    deliverer.start()
    while queue.depth("http"):
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    await deliverer.close()
    await queue.close()
    return count / elapsed


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--deliver", type=int, default=5_000)
    parser.add_argument("--producers", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        rate = await enqueue_rate(root / "enqueue", args.count, args.producers)
        print(f"durable enqueue, {args.producers} concurrent producers: {rate:,.0f} readings/s")
        per_reading, rows = disk_bytes_per_reading(root / "enqueue")
        print(f"disk: {per_reading:.0f} bytes per reading ({rows:,} readings of {len(PAYLOAD)}-byte values)")
        rate = await enqueue_rate(root / "single", 2000, 1)
        print(f"durable enqueue, one producer awaiting each reading (a commit each): {rate:,.0f} readings/s")
        rate = await batch_rate(root / "batch", args.count)
        print(f"durable enqueue_many, batches of 1,000: {rate:,.0f} readings/s")
        port = free_port()
        server = multiprocessing.Process(target=receiver, args=(port,), daemon=True)
        server.start()
        await asyncio.sleep(1.0)
        try:
            rate = await delivery_rate(root / "deliver", args.deliver, port)
        finally:
            server.terminate()
        print(f"delivery to a local HTTP receiver (one POST per reading): {rate:,.0f} readings/s")


if __name__ == "__main__":
    asyncio.run(main())
