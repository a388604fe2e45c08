"""A process that queues readings and uploads them, for the kill -9 test (tests/test_telemetry_crash.py).

``python tests/queue_worker.py STATE_DIR HARVEST_URL RUN COUNT``: queues COUNT readings ``{"run", "n"}`` from
eight producers at once (so commits are shared), printing ``ACK RUN N`` the moment each ``enqueue`` returns,
while a deliverer uploads the queue to HARVEST_URL. With COUNT 0 it only uploads, prints ``DRAINED`` once the
queue is empty, and exits.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from agent.telemetry.delivery import Deliverer
from agent.telemetry.harvest import JsonBody, harvest_http, values_payload
from agent.telemetry.queue import TelemetryQueue


async def main(state_dir: Path, url: str, run: int, count: int) -> None:
    queue = TelemetryQueue.in_state_dir(state_dir)
    deliverer = Deliverer(queue, "harvest", harvest_http(url, JsonBody()), retry_initial=0.05, retry_max=0.2)
    deliverer.start()
    numbers = iter(range(count))

    async def produce() -> None:
        for n in numbers:
            await queue.enqueue("harvest", values_payload({"run": run, "n": n}))
            sys.stdout.write(f"ACK {run} {n}\n")
            sys.stdout.flush()
            await asyncio.sleep(0.005)

    await asyncio.gather(*(produce() for _ in range(4)))
    while queue.depth("harvest"):
        await asyncio.sleep(0.02)
    print("DRAINED", flush=True)
    await deliverer.close()
    await queue.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
