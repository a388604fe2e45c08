"""Harvest Files from the queue: CSV files of buffered readings, file and command snapshots, and retries that
land on the same path, against the emulator's files entry point over real HTTP."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.core.path import Path as LwPath
from agent.simulator.cloud.config import CloudConfig
from agent.simulator.cloud.runner import RunningCloud, start_cloud
from agent.simulator.cloud.store import CloudStore
from agent.simulator.session import emulator_endpoints
from agent.telemetry.delivery import Deliverer
from agent.telemetry.files import FilesTransport, csv_file, file_path, take_file
from agent.telemetry.harvest import values_payload
from agent.telemetry.queue import Reading, TelemetryQueue
from agent.telemetry.service import build_transport
from agent.telemetry.settings import DestinationSettings, FileSource


@pytest.fixture
async def cloud() -> AsyncIterator[tuple[RunningCloud, CloudStore]]:
    store = CloudStore()
    running = await start_cloud(CloudConfig(), store)
    try:
        yield running, store
    finally:
        await running.close()
        store.close()


async def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


def files(store: CloudStore) -> dict[str, bytes]:
    entries, _ = store.find_files("private", "/", limit=1000)
    return {e.file_path: store.get_file("private", e.file_path).content  # type: ignore[union-attr]
            for e in entries if not e.is_directory}


async def test_buffered_readings_go_up_as_one_csv_at_the_path_of_the_first(
        tmp_path: Path, cloud: tuple[RunningCloud, CloudStore]) -> None:
    running, store = cloud
    dest = DestinationSettings(name="csv", transport="files", interval=0.1, file_path="/logs/{name}/{time}.csv",
                               resources=(("temp", LwPath(3303, 0, 5700)), ("hum", LwPath(3304, 0, 5700))))
    queue = TelemetryQueue.in_state_dir(tmp_path)
    t0 = int(time.time() * 1000) - 10_000
    for i in range(5):
        await queue.enqueue("csv", values_payload({"temp": 20 + i, "hum": None if i == 2 else 40}), taken_ms=t0 + i)
    deliverer = Deliverer(queue, "csv", build_transport(dest, emulator_endpoints(running)))
    deliverer.start()
    try:
        await wait_for(lambda: queue.depth("csv") == 0)
    finally:
        await deliverer.close()
        await queue.close()
    got = files(store)
    assert list(got) == [f"/logs/csv/{t0}.csv"]
    rows = list(csv.reader(io.StringIO(got[f"/logs/csv/{t0}.csv"].decode())))
    assert rows[0] == ["id", "time", "temp", "hum"]
    assert [r[1:] for r in rows[1:]] == [[str(t0 + i), str(20 + i), "" if i == 2 else "40"] for i in range(5)]


async def test_a_retry_puts_the_same_path_again(tmp_path: Path, cloud: tuple[RunningCloud, CloudStore]) -> None:
    running, store = cloud
    dest = DestinationSettings(name="snap", transport="files", file_path="/snap/{id}.bin",
                               file_source=FileSource(path="/dev/null"), content_type="application/octet-stream")
    transport = FilesTransport(dest, running.files_url)
    reading = Reading(1, "snap", "abc-1", 5000, b"\x00\x01snapshot")
    await transport.deliver(reading)
    await transport.deliver(reading)  # the answer to the first was lost, say: sent again
    await transport.close()
    assert files(store) == {"/snap/abc-1.bin": b"\x00\x01snapshot"}


async def test_file_and_command_snapshots(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"line 1\nline 2\n")
    assert await take_file(FileSource(path=str(log)), 1000) == b"line 1\nline 2\n"
    command = FileSource(command=(sys.executable, "-c", "print('snapshot')"))
    assert await take_file(command, 1000) == b"snapshot\n"
    from agent.telemetry.delivery import DeliveryError

    with pytest.raises(DeliveryError, match="larger than"):
        await take_file(FileSource(path=str(log)), 5)
    with pytest.raises(DeliveryError, match="cannot read"):
        await take_file(FileSource(path=str(tmp_path / "missing")), 5)


def test_path_template_placeholders() -> None:
    reading = Reading(1, "d", "xy-3", 1746100800000, b"")
    assert file_path("/a/{name}/{datetime}-{id}-{time}.csv", reading, "logs") == \
        "/a/logs/20250501T120000Z-xy-3-1746100800000.csv"


_CELLS = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(), st.booleans(), st.none())


@given(st.lists(st.tuples(st.text(min_size=1, max_size=8), st.dictionaries(st.sampled_from(["a", "b", "c"]), _CELLS)),
                max_size=6))
def test_csv_rows_read_back(rows: list[tuple[str, dict[str, object]]]) -> None:
    readings = [Reading(i, "d", rid, 1000 + i, json.dumps(values).encode()) for i, (rid, values) in enumerate(rows)]
    parsed = list(csv.reader(io.StringIO(csv_file(["a", "b", "c"], readings).decode(), newline="")))
    assert parsed[0] == ["id", "time", "a", "b", "c"]
    for (rid, values), row in zip(rows, parsed[1:], strict=True):
        assert row[0] == rid
        assert row[2:] == ["" if values.get(k) is None else str(values[k]) for k in "abc"]
