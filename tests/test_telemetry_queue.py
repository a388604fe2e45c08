"""The durable telemetry queue: order, delivery bookkeeping, limits that drop loudly, status, and the
JSON body and socket reply codecs (property-based)."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.telemetry.delivery import DeliveryError
from agent.telemetry.harvest import JsonBody, check_http_answer, check_reply, reply_status, values_payload
from agent.telemetry.queue import Reading, TelemetryQueue, queue_path
from agent.telemetry.settings import QueueLimits
from agent.telemetry.status import format_status, load_status


async def test_enqueue_is_on_disk_when_it_returns_and_each_destination_keeps_its_order(tmp_path: Path) -> None:
    queue = TelemetryQueue.in_state_dir(tmp_path)
    ids = [await queue.enqueue("a" if i % 2 else "b", values_payload({"n": i}), taken_ms=1000 + i)
           for i in range(10)]
    # Another connection (as after a crash) sees every acknowledged reading.
    other = sqlite3.connect(queue_path(tmp_path))
    stored = [row[0] for row in other.execute("SELECT reading_id FROM readings ORDER BY seq")]
    other.close()
    assert stored == ids and len(set(ids)) == 10
    head_a = await queue.head("a", 100)
    assert [json.loads(r.payload)["n"] for r in head_a] == [1, 3, 5, 7, 9]
    assert [r.taken_ms for r in head_a] == [1001, 1003, 1005, 1007, 1009]
    await queue.delivered("a", [r.seq for r in head_a[:2]])
    assert [json.loads(r.payload)["n"] for r in await queue.head("a", 100)] == [5, 7, 9]
    assert queue.depth("a") == 3 and queue.depth("b") == 5
    await queue.close()


async def test_concurrent_enqueues_share_commits_and_all_survive_a_reopen(tmp_path: Path) -> None:
    import asyncio

    queue = TelemetryQueue.in_state_dir(tmp_path)
    ids = await asyncio.gather(*(queue.enqueue("d", b'{"n":%d}' % i) for i in range(2000)))
    await queue.close()
    reopened = TelemetryQueue.in_state_dir(tmp_path)
    rows = await reopened.head("d", 5000)
    assert [r.reading_id for r in rows] == list(ids)
    assert reopened.depth("d") == 2000
    await reopened.close()


async def test_row_and_byte_limits_drop_the_oldest_loudly_and_count_them(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    queue = TelemetryQueue.in_state_dir(tmp_path)
    queue.add_destination("small", QueueLimits(max_rows=5, max_bytes=10_000))
    with caplog.at_level(logging.ERROR, logger="agent.telemetry.queue"):
        for i in range(8):
            await queue.enqueue("small", b'{"n":%d}' % i)
    assert [json.loads(r.payload)["n"] for r in await queue.head("small")] == [3, 4, 5, 6, 7]
    drops = [r for r in caplog.records if "TELEMETRY DROPPED" in r.getMessage()]
    assert len(drops) == 3 and "max_rows=5" in drops[-1].getMessage() and "3 dropped so far" in drops[-1].getMessage()
    queue.add_destination("bytes", QueueLimits(max_rows=100, max_bytes=25))
    for _ in range(5):
        await queue.enqueue("bytes", b"0123456789")  # 10 bytes each: only 2 fit
    assert queue.depth("bytes") == 2
    status = {s.name: s for s in await queue.status()}
    assert status["small"].dropped == 3 and status["bytes"].dropped == 3
    await queue.close()


async def test_readings_older_than_max_age_are_dropped_and_counted(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    queue = TelemetryQueue.in_state_dir(tmp_path)
    queue.add_destination("old", QueueLimits(max_age=60))
    now_ms = int(time.time() * 1000)
    await queue.enqueue("old", b"{}", taken_ms=now_ms - 120_000)
    await queue.enqueue("old", b"{}", taken_ms=now_ms)
    with caplog.at_level(logging.ERROR, logger="agent.telemetry.queue"):
        assert await queue.expire("old") == 1
    assert "max_age=60 s" in caplog.text
    assert queue.depth("old") == 1
    await queue.close()


async def test_status_reads_depth_age_success_error_and_drops(tmp_path: Path) -> None:
    queue = TelemetryQueue.in_state_dir(tmp_path)
    queue.add_destination("h", QueueLimits(max_rows=1))
    await queue.enqueue("h", b"{}", taken_ms=int(time.time() * 1000) - 90_000)
    await queue.enqueue("h", b"{}", taken_ms=int(time.time() * 1000) - 90_000)
    await queue.failed("h", "answered 400 Harvest Data is not enabled")
    first = (await queue.head("h"))[0]
    await queue.delivered("h", [first.seq])
    await queue.enqueue("h", b"{}", taken_ms=int(time.time() * 1000) - 90_000)
    # Read while the queue is still open, as `lwm2m-agent queue status` does beside a running agent.
    (status,) = load_status(tmp_path)
    assert (status.name, status.depth, status.dropped, status.delivered) == ("h", 1, 1, 1)
    assert status.last_error == "answered 400 Harvest Data is not enabled"
    text = format_status([status])
    assert "depth:        1 reading(s)" in text and "1.5 min" in text and "dropped:      1" in text
    await queue.close()
    assert load_status(tmp_path)[0].depth == 1
    with pytest.raises(FileNotFoundError, match="no telemetry queue"):
        load_status(tmp_path / "nothing")


async def test_state_values_persist(tmp_path: Path) -> None:
    queue = TelemetryQueue.in_state_dir(tmp_path)
    await queue.set_state("sigfox", '{"day": 1}')
    await queue.close()
    reopened = TelemetryQueue.in_state_dir(tmp_path)
    assert await reopened.get_state("sigfox") == '{"day": 1}' and await reopened.get_state("other") is None
    await reopened.close()


# ---- codecs ----------------------------------------------------------------------------------------

_KEYS = st.text(min_size=1, max_size=12).filter(lambda k: k not in ("id", "time"))
_VALUES = st.one_of(st.integers(-2**53, 2**53), st.floats(allow_nan=False, allow_infinity=False), st.text(),
                    st.booleans(), st.none())


@given(st.dictionaries(_KEYS, _VALUES, max_size=8), st.text(min_size=1, max_size=30), st.integers(0, 2**42))
def test_json_body_carries_id_time_and_every_value(values: dict[str, object], rid: str, taken: int) -> None:
    body = JsonBody()(Reading(1, "d", rid, taken, values_payload(values)))
    assert json.loads(body) == {"id": rid, "time": taken, **values}


@given(st.integers(100, 599), st.text(max_size=40))
def test_socket_replies_succeed_only_on_a_2xx_status(status: int, message: str) -> None:
    reply = f"{status} {message}".encode()
    assert reply_status(reply) == status
    if 200 <= status < 300:
        check_reply(reply)
    else:
        with pytest.raises(DeliveryError):
            check_reply(reply)


@given(st.binary(max_size=40))
def test_socket_reply_parser_never_crashes(reply: bytes) -> None:
    status = reply_status(reply)
    assert status is None or 100 <= status <= 999


def test_http_answers() -> None:
    check_http_answer(201, "")
    check_http_answer(207, '{"result":"ok","detail":{}}')
    with pytest.raises(DeliveryError, match="207"):
        check_http_answer(207, '{"result":"ng","detail":{"harvest":{"statusCode":400}}}')
    with pytest.raises(DeliveryError) as limited:
        check_http_answer(429, "slow down", retry_after=3)
    assert limited.value.retry_after == 3
    with pytest.raises(DeliveryError) as refused:
        check_http_answer(400, "Harvest Data is not enabled", retry_after=3)
    assert refused.value.retry_after is None


async def test_queue_status_command(tmp_path: Path) -> None:
    from support import run_cli

    queue = TelemetryQueue.in_state_dir(tmp_path)
    await queue.enqueue("harvest", b"{}")
    await queue.failed("harvest", "answered 503 try later")
    code, out = await run_cli("queue", "status", "--state-dir", str(tmp_path))
    await queue.close()
    assert code == 0, out
    assert out.splitlines()[0] == "harvest" and "depth:        1 reading(s)" in out and "503 try later" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out = await run_cli("queue", "status", "--state-dir", str(empty))
    assert code == 1 and "no telemetry queue" in out


def test_telemetry_does_not_import_the_profile_code() -> None:
    import subprocess
    import sys

    modules = ["queue", "delivery", "harvest", "files", "send", "notifications", "service", "settings", "status",
               "sigfox", "sigfox_downlink"]
    code = "; ".join(f"import agent.telemetry.{m}" for m in modules)
    out = subprocess.run([sys.executable, "-c", code + "; import sys; print('agent.profiles' in sys.modules)"],
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"


_HOSTS = st.one_of(st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True),
                   st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(lambda a: f"[{a}]"))


@given(_HOSTS, st.integers(1, 65535), st.sampled_from(["", "tcp://", "udp://"]))
def test_socket_urls_read_back(host: str, port: int, scheme: str) -> None:
    from agent.telemetry.service import socket_address

    assert socket_address(f"{scheme}{host}:{port}", ("x", 1)) == (host.strip("[]"), port)
    assert socket_address(None, ("harvest.soracom.io", 8514)) == ("harvest.soracom.io", 8514)
