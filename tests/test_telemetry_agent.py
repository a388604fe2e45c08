"""The real agent (``lwm2m-agent run``) with a ``[telemetry.*]`` table: readings taken while Harvest is
down wait in the queue in --state-dir, survive kill -9, and reach the emulator after a restart."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sqlite3
from pathlib import Path

from support import CLI

from agent.simulator.cloud.config import CloudConfig
from agent.simulator.cloud.runner import CloudPorts, start_cloud
from agent.simulator.cloud.store import CloudStore
from agent.simulator.lwm2m_server import LwM2MServer

PROFILE = '''
[server]
uri = "{server}"
endpoint = "telemetry-agent"
lwm2m_version = "1.0"

[objects.3303.0.resources]
5700 = {{ kind = "simulated", source = "counter", start = 0, step = 1, interval = 0.1 }}

[telemetry.harvest]
transport = "harvest_http"
url = "http://127.0.0.1:{port}/"
resources = {{ count = "/3303/0/5700" }}
interval = 0.2
retry_initial = 0.1
retry_max = 0.5
'''


def queued_ids(state: Path) -> set[str]:
    db = sqlite3.connect(state / "telemetry.sqlite")
    try:
        return {row[0] for row in db.execute("SELECT reading_id FROM readings WHERE destination='harvest'")}
    finally:
        db.close()


async def test_readings_of_a_harvest_outage_survive_kill_9_and_arrive_after_a_restart(
        server: LwM2MServer, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    profile = tmp_path / "agent.toml"
    profile.write_text(PROFILE.format(server=server.uri, port=port))
    state = tmp_path / "state"
    command = [*CLI, "run", "--profile", str(profile), "--state-dir", str(state), "--bind", "127.0.0.1"]
    agent = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.DEVNULL,
                                                 stderr=asyncio.subprocess.DEVNULL)
    try:
        await server.wait_registered("telemetry-agent", 20)
        await asyncio.sleep(2.0)  # Harvest is down: readings pile up
    finally:
        agent.send_signal(signal.SIGKILL)
        await agent.wait()
    waiting = queued_ids(state)
    assert len(waiting) >= 3
    store = CloudStore()
    cloud = await start_cloud(CloudConfig(), store, ports=CloudPorts(harvest=port))
    agent = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.DEVNULL,
                                                 stderr=asyncio.subprocess.PIPE)
    try:
        received: dict[str, dict] = {}
        async with asyncio.timeout(30):
            while not waiting <= set(received):
                await asyncio.sleep(0.2)
                entries, _ = store.data_entries("Subscriber", "001010000000001", ascending=True, limit=100_000)
                received = {json.loads(e.content)["id"]: json.loads(e.content) for e in entries}
        # The readings of the outage kept their own time and their order.
        old = [r for rid, r in received.items() if rid in waiting]
        assert [r["time"] for r in old] == sorted(r["time"] for r in old)
        assert all(isinstance(r["count"], (int, float)) for r in old)
    finally:
        agent.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(agent.communicate(), 20)
        await cloud.close()
        store.close()
    assert agent.returncode == 0, err.decode()[-2000:]
