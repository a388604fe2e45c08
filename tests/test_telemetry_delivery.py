"""Delivering queued readings to the emulator's Harvest entry points over real HTTP, TCP and UDP: every
transport, the reading's own timestamp, receiver outages, and publish's 429."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from agent.simulator.cloud.config import CloudConfig, RateLimit
from agent.simulator.cloud.runner import CloudPorts, RunningCloud, start_cloud
from agent.simulator.cloud.store import CloudStore
from agent.simulator.session import emulator_endpoints
from agent.telemetry.delivery import Deliverer
from agent.telemetry.harvest import values_payload
from agent.telemetry.queue import TelemetryQueue
from agent.telemetry.service import build_transport
from agent.telemetry.settings import DestinationSettings, Endpoints

IMSI = "001010000000001"


@pytest.fixture
async def cloud() -> AsyncIterator[tuple[RunningCloud, CloudStore, CloudConfig]]:
    config, store = CloudConfig(), CloudStore()
    running = await start_cloud(config, store)
    try:
        yield running, store, config
    finally:
        await running.close()
        store.close()


def contents(store: CloudStore, resource_type: str = "Subscriber", resource_id: str = IMSI) -> list[dict]:
    entries, _ = store.data_entries(resource_type, resource_id, ascending=True, limit=100_000)
    return [{"entry_time": e.time, **json.loads(e.content)} for e in entries]


async def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


def unique(readings: list[dict]) -> list[dict]:
    """What a receiver keeps after dropping duplicates by reading id, in arrival order."""
    seen: set[str] = set()
    kept = []
    for reading in readings:
        if reading["id"] not in seen:
            seen.add(reading["id"])
            kept.append(reading)
    return kept


@pytest.mark.parametrize("transport", ["harvest_http", "harvest_tcp", "harvest_udp", "unified_http", "unified_tcp",
                                       "unified_udp", "publish"])
async def test_every_transport_delivers_in_order_with_id_and_reading_time(
        transport: str, tmp_path: Path, cloud: tuple[RunningCloud, CloudStore, CloudConfig]) -> None:
    running, store, _ = cloud
    dest = DestinationSettings(name=transport, transport=transport, device_id="d-test", device_secret="c2VjcmV0")
    source = ("Device", "d-test") if transport == "publish" else ("Subscriber", IMSI)
    store.set_device_secret("d-test", "c2VjcmV0")
    queue = TelemetryQueue.in_state_dir(tmp_path)
    taken = [int(time.time() * 1000) - 60_000 + 1000 * i for i in range(5)]  # readings of a minute ago
    for i, when in enumerate(taken):
        await queue.enqueue(transport, values_payload({"n": i, "temp": 20.5 + i}), taken_ms=when)
    deliverer = Deliverer(queue, transport, build_transport(dest, emulator_endpoints(running)))
    deliverer.start()
    try:
        await wait_for(lambda: len(contents(store, *source)) >= 5)
        await wait_for(lambda: queue.depth(transport) == 0)
    finally:
        await deliverer.close()
        await queue.close()
    got = contents(store, *source)
    assert [r["n"] for r in got] == [0, 1, 2, 3, 4]
    assert [r["time"] for r in got] == taken and all(r["temp"] == 20.5 + r["n"] for r in got)
    assert len({r["id"] for r in got}) == 5
    if transport in ("harvest_http", "publish"):  # the header files the entry at the reading's time
        assert [r["entry_time"] for r in got] == taken


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("transport", ["harvest_http", "harvest_udp", "unified_tcp"])
async def test_readings_wait_through_a_receiver_outage_and_arrive_once_in_order(transport: str,
                                                                                 tmp_path: Path) -> None:
    port = free_port()
    address = ("127.0.0.1", port)
    endpoints = Endpoints(harvest_url=f"http://127.0.0.1:{port}/", harvest_socket=address, unified_socket=address)
    dest = DestinationSettings(name="out", transport=transport, retry_initial=0.05, retry_max=0.3)
    queue = TelemetryQueue.in_state_dir(tmp_path)
    deliverer = Deliverer(queue, "out", build_transport(dest, endpoints), retry_initial=0.05, retry_max=0.3)
    deliverer.start()
    config, store = CloudConfig(), CloudStore()
    ports = CloudPorts(harvest=port) if transport == "harvest_http" else (
        CloudPorts(harvest_socket=port) if transport == "harvest_udp" else CloudPorts(unified_socket=port))
    try:
        for i in range(30):
            await queue.enqueue("out", values_payload({"n": i}))
        await wait_for(lambda: deliverer.failures >= 2)
        status = {s.name: s for s in await queue.status()}["out"]
        assert status.depth == 30 and status.last_error
        running = await start_cloud(config, store, ports=ports)
        try:
            for i in range(30, 40):
                await queue.enqueue("out", values_payload({"n": i}))
            await wait_for(lambda: queue.depth("out") == 0)
            await wait_for(lambda: len(unique(contents(store))) == 40)
        finally:
            await running.close()
    finally:
        await deliverer.close()
        await queue.close()
    assert [r["n"] for r in unique(contents(store))] == list(range(40))
    store.close()


async def test_publish_backs_off_on_429_and_loses_nothing(
        tmp_path: Path, cloud: tuple[RunningCloud, CloudStore, CloudConfig]) -> None:
    running, store, config = cloud
    await running.close()
    limited = replace(config, publish_rate_limit=RateLimit(max_requests=3, per_seconds=1.0))
    running = await start_cloud(limited, store)
    store.set_device_secret("d-rate", "c2VjcmV0")
    dest = DestinationSettings(name="pub", transport="publish", device_id="d-rate", device_secret="c2VjcmV0")
    queue = TelemetryQueue.in_state_dir(tmp_path)
    deliverer = Deliverer(queue, "pub", build_transport(dest, emulator_endpoints(running)))
    for i in range(8):
        await queue.enqueue("pub", values_payload({"n": i}))
    deliverer.start()
    try:
        await wait_for(lambda: queue.depth("pub") == 0, timeout=30)
    finally:
        await deliverer.close()
        await queue.close()
        await running.close()
    assert [r["n"] for r in unique(contents(store, "Device", "d-rate"))] == list(range(8))
    assert deliverer.failures >= 1  # at least one 429, waited out as Retry-After said


@pytest.mark.parametrize("transport", ["harvest_http", "harvest_tcp", "harvest_udp", "unified_http", "unified_udp"])
async def test_an_error_answer_keeps_the_reading_and_says_why(
        transport: str, tmp_path: Path, cloud: tuple[RunningCloud, CloudStore, CloudConfig]) -> None:
    running, store, config = cloud
    config.harvest_enabled = False  # the group has Harvest off: every entry point answers 400
    dest = DestinationSettings(name="h", transport=transport)
    queue = TelemetryQueue.in_state_dir(tmp_path)
    deliverer = Deliverer(queue, "h", build_transport(dest, emulator_endpoints(running)), retry_initial=0.05,
                          retry_max=0.2)
    await queue.enqueue("h", values_payload({"n": 1}))
    deliverer.start()
    try:
        await wait_for(lambda: deliverer.failures >= 2)
        status = {s.name: s for s in await queue.status()}["h"]
        assert status.depth == 1 and status.last_error is not None and "400" in status.last_error
        config.harvest_enabled = True
        await wait_for(lambda: queue.depth("h") == 0)
    finally:
        await deliverer.close()
        await queue.close()
    assert [r["n"] for r in contents(store)] == [1]
