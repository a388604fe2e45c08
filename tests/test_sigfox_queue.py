"""Sigfox through the durable queue: frames round-trip through the simulated modem on a real pty, the day's
budget survives a restart (the 141st uplink waits, and its saved form round-trips), a missing modem holds
frames instead of spending the budget, and downlinks come back to the handler and onto the tree."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path as FsPath

from hypothesis import assume, given
from hypothesis import strategies as st
from test_sigfox_uplinks import DEVICE_ID, FIELDS, NOON, Clock, Sensors, simulated, store, stored  # noqa: F401

from agent.simulator.cloud.store import CloudStore
from agent.simulator.sigfox_modem import SimulatedSigfoxModem
from agent.telemetry.queue import TelemetryQueue
from agent.telemetry.sigfox import SigfoxModem, SigfoxUplinks, unpack_frame


async def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def queued_uplinks(port: str, queue: TelemetryQueue, clock: Clock, sensors: Sensors, **options: object
                   ) -> SigfoxUplinks:
    modem = SigfoxModem(device=port, command_timeout=2.0, reconnect_delay=0.05)
    settings: dict[str, object] = {"interval": 3600.0, "min_interval": 0.0, "clock": clock, "queue": queue,
                                   "retry_initial": 0.05}
    settings.update(options)
    return SigfoxUplinks(modem=modem, read=sensors.read, fields=FIELDS, **settings)  # type: ignore[arg-type]


async def test_the_141st_uplink_of_a_day_waits_in_the_queue_across_a_restart(
        tmp_path: FsPath, simulated: SimulatedSigfoxModem, store: CloudStore) -> None:  # noqa: F811 (fixtures)
    clock, sensors = Clock(NOON), Sensors()
    queue = TelemetryQueue.in_state_dir(tmp_path)
    uplinks = queued_uplinks(simulated.port, queue, clock, sensors)
    await uplinks.start()
    for _ in range(100):
        await uplinks.queue_now()
    await wait_for(lambda: len(stored(store)) == 100)
    await uplinks.close()
    await queue.close()
    # Restarted: the day's count goes on from 100, not from 0.
    queue = TelemetryQueue.in_state_dir(tmp_path)
    uplinks = queued_uplinks(simulated.port, queue, clock, sensors)
    await uplinks.start()
    try:
        assert uplinks.budget.uplinks_today(clock()) == 100
        for _ in range(41):
            await uplinks.queue_now()
        await wait_for(lambda: len(stored(store)) == 140)
        await asyncio.sleep(0.3)
        assert len(stored(store)) == 140 and queue.depth("sigfox") == 1  # the 141st waits, not lost
        status = {s.name: s for s in await queue.status()}["sigfox"]
        assert status.last_error == "waiting: the Sigfox budget allows no uplink now"
    finally:
        await uplinks.close()
    clock.now += 86400  # the next UTC day: it goes
    await uplinks.start()  # a restart wakes the waiting deliverer at once instead of after its hour
    try:
        await wait_for(lambda: len(stored(store)) == 141)
        assert queue.depth("sigfox") == 0
    finally:
        await uplinks.close()
        await queue.close()


async def test_frames_round_trip_and_a_downlink_reaches_the_handler(
        tmp_path: FsPath, simulated: SimulatedSigfoxModem, store: CloudStore) -> None:  # noqa: F811 (fixtures)
    clock, sensors = Clock(NOON), Sensors()
    received: list[bytes] = []

    async def on_downlink(data: bytes) -> None:
        received.append(data)

    store.queue_sigfox_downlink(DEVICE_ID, bytes.fromhex("0123456789ABCDEF"))
    queue = TelemetryQueue.in_state_dir(tmp_path)
    uplinks = queued_uplinks(simulated.port, queue, clock, sensors, downlink_every=2, on_downlink=on_downlink)
    await uplinks.start()
    try:
        await uplinks.queue_now()
        sensors.values[next(iter(sensors.values))] = -3.5
        await uplinks.queue_now()
        await wait_for(lambda: len(stored(store)) == 2 and bool(received))
    finally:
        await uplinks.close()
        await queue.close()
    frames = stored(store)
    assert [f["ack"] for f in frames] == [False, True]  # the second uplink asked for the downlink
    assert unpack_frame(FIELDS, bytes.fromhex(str(frames[0]["data"]))) == {"temp": 21.25, "hum": 40}
    assert unpack_frame(FIELDS, bytes.fromhex(str(frames[1]["data"])))["temp"] == -3.5
    assert received == [bytes.fromhex("0123456789ABCDEF")]


async def test_a_missing_modem_holds_frames_without_spending_the_budget(tmp_path: FsPath) -> None:
    clock, sensors = Clock(NOON), Sensors()
    queue = TelemetryQueue.in_state_dir(tmp_path)
    uplinks = queued_uplinks(str(tmp_path / "no-such-tty"), queue, clock, sensors)
    await uplinks.start()
    try:
        for _ in range(3):
            await uplinks.queue_now()
        await asyncio.sleep(0.5)
        assert queue.depth("sigfox") == 3
        assert uplinks.budget.uplinks_today(clock()) == 0 and uplinks.sent == 0
    finally:
        await uplinks.close()
        await queue.close()


async def test_a_downlink_becomes_writes_and_an_execute_on_the_tree() -> None:
    from support import build_tree

    from agent.core.path import Path
    from agent.telemetry.sigfox_downlink import downlink_handler
    from agent.telemetry.sigfox_spec import parse_field_format

    tree = build_tree("coap://127.0.0.1:5683")
    fields = [parse_field_format(Path(32769, 0, 1), "level", "0:int:16"),
              parse_field_format(Path(32769, 0, 4), "flag", "2:bool:7")]
    apply = downlink_handler(tree, fields, Path(32769, 0, 12))  # 12 executes, keeping its argument in 13
    await apply(bytes.fromhex("FFF6800000000000"))
    assert (await tree.read(Path(32769, 0, 1)))[0].value == -10
    assert (await tree.read(Path(32769, 0, 4)))[0].value is True
    assert (await tree.read(Path(32769, 0, 13)))[0].value == "FFF6800000000000"


@given(st.integers(0, 140), st.integers(0, 4), st.floats(0, 86399, allow_nan=False))
def test_budget_snapshot_round_trips(uplinks: int, downlinks: int, offset: float) -> None:
    from agent.telemetry.sigfox import SigfoxBudget

    now = NOON - 43200 + offset  # within one UTC day
    budget = SigfoxBudget()
    for i in range(uplinks):
        budget.spend(now, downlink=i < downlinks)
    restored = SigfoxBudget()
    restored.restore(budget.snapshot())
    assert restored.uplinks_today(now) == uplinks and restored.downlinks_today(now) == min(uplinks, downlinks)
    assert restored.refusal(now) == budget.refusal(now)


@given(st.one_of(st.text(max_size=80), st.just('{"day": "x"}'), st.just("[]"), st.just('{"uplinks": 3}')))
def test_a_budget_snapshot_that_does_not_parse_counts_the_day_as_spent(text: str) -> None:
    import json
    import time as clock

    from agent.telemetry.sigfox import SigfoxBudget

    try:  # a snapshot restore() can take: three whole numbers (and a time or nothing as "last")
        state = json.loads(text)
        [int(state[k]) for k in ("day", "uplinks", "downlinks")]
        usable = state.get("last") is None or float(state["last"]) is not None
    except (ValueError, KeyError, TypeError, AttributeError):
        usable = False
    assume(not usable)
    budget = SigfoxBudget()
    budget.restore(text)  # never raises
    assert budget.refusal(clock.time()) is not None  # over-counting costs uplinks; under-counting breaks the contract
