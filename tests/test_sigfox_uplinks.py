"""Periodic Sigfox uplinks: the daily budget, downlink requests, and a schedule that survives a failing modem,
all over a real pty to the simulated modem and the cloud emulator's store."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from agent.core.errors import ServiceUnavailable
from agent.core.model import Value
from agent.core.path import Path
from agent.hardware.errors import HardwareConfigError
from agent.simulator.cloud.store import CloudStore
from agent.simulator.sigfox_modem import SimulatedSigfoxModem
from agent.telemetry.sigfox import (
    SigfoxBudget,
    SigfoxBudgetExceeded,
    SigfoxError,
    SigfoxModem,
    SigfoxUplinks,
    parse_field_spec,
    parse_parser_format,
    parser_format,
    unpack_frame,
)

DEVICE_ID = "00C0FFEE"
PAC = "FEDCBA9876543210"
TEMP, HUM = Path(3303, 0, 5700), Path(3304, 0, 5700)
FIELDS = [parse_field_spec(TEMP, "temp:int:16:/100"), parse_field_spec(HUM, "hum:uint:8")]
NOON = datetime(2025, 5, 1, 12, 0, tzinfo=UTC).timestamp()


class Clock:
    """An injected wall clock the test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Sensors:
    """Resource values by path: the ``read`` callable the lead connects to the object tree."""

    def __init__(self) -> None:
        self.values: dict[Path, Value] = {TEMP: 21.25, HUM: 40}
        self.broken: set[Path] = set()

    async def read(self, path: Path) -> Value:
        if path in self.broken:
            raise ServiceUnavailable(f"no data from the sensor of {path}")
        return self.values[path]


@pytest.fixture
def store() -> CloudStore:
    cloud = CloudStore()
    cloud.provision_sigfox_device(DEVICE_ID, PAC)
    return cloud


@pytest.fixture
async def simulated(store: CloudStore) -> AsyncIterator[SimulatedSigfoxModem]:
    async def on_uplink(device_id: str, data: bytes, want_downlink: bool) -> bytes | None:
        return store.sigfox_uplink(device_id, data, want_downlink)

    modem = SimulatedSigfoxModem(device_id=DEVICE_ID, pac=PAC, on_uplink=on_uplink)
    await modem.start()
    yield modem
    await modem.close()


@pytest.fixture
def make_uplinks(simulated: SimulatedSigfoxModem) -> Callable[..., SigfoxUplinks]:
    def make(sensors: Sensors, **options: object) -> SigfoxUplinks:
        timeout = float(options.pop("command_timeout", 2.0))  # type: ignore[arg-type]
        modem = SigfoxModem(device=simulated.port, command_timeout=timeout, reconnect_delay=0.05)
        settings: dict[str, object] = {"interval": 600.0, "min_interval": 0.0}
        settings.update(options)
        return SigfoxUplinks(
            modem=modem, read=sensors.read, fields=FIELDS, **settings)  # type: ignore[arg-type]

    return make


def stored(store: CloudStore) -> list[dict[str, object]]:
    page, _ = store.data_entries("SigfoxDevice", DEVICE_ID, ascending=True, limit=1000)
    return [json.loads(entry.content) for entry in page]


# ---- the budget alone ------------------------------------------------------------------------------


def test_budget_counts_uplinks_per_utc_day() -> None:
    budget = SigfoxBudget()
    for i in range(140):
        assert budget.refusal(NOON + i) is None
        budget.spend(NOON + i, downlink=False)
    assert "140 Sigfox uplinks of today (UTC) are spent" in (budget.refusal(NOON + 140) or "")
    midnight = datetime(2025, 5, 2, tzinfo=UTC).timestamp()
    assert budget.refusal(midnight - 0.001) is not None
    assert budget.refusal(midnight) is None
    assert budget.uplinks_today(midnight) == 0


def test_budget_allows_four_downlinks_a_day() -> None:
    budget = SigfoxBudget()
    for _ in range(4):
        assert budget.may_ask_downlink(NOON)
        budget.spend(NOON, downlink=True)
    assert not budget.may_ask_downlink(NOON)
    assert budget.may_ask_downlink(NOON + 86400)


def test_budget_spacing_tolerates_a_clock_stepped_back() -> None:
    budget = SigfoxBudget(min_interval=600)
    budget.spend(NOON, downlink=False)
    assert "went 599.0 s ago; uplinks are at least 600 s apart" in (budget.refusal(NOON + 599) or "")
    assert budget.refusal(NOON + 600) is None
    assert budget.refusal(NOON - 3600) is None


# ---- send_now over the real stack -----------------------------------------------------------------


async def test_141st_uplink_of_a_day_is_refused(make_uplinks: Callable[..., SigfoxUplinks],
                                                store: CloudStore) -> None:
    clock = Clock(NOON)
    uplinks = make_uplinks(Sensors(), clock=clock)
    await uplinks.start()
    try:
        for _ in range(140):
            assert await uplinks.send_now() is None
            clock.now += 1
        with pytest.raises(SigfoxBudgetExceeded, match="140 Sigfox uplinks of today") as refused:
            await uplinks.send_now()
        assert refused.value.code == (5, 3)
        assert (uplinks.sent, uplinks.refused, uplinks.failed) == (140, 1, 0)
        assert len(stored(store)) == 140
        clock.now = datetime(2025, 5, 2, 0, 0, 1, tzinfo=UTC).timestamp()
        await uplinks.send_now()
    finally:
        await uplinks.close()
    assert uplinks.sent == 141
    assert len(stored(store)) == 141


async def test_frames_carry_the_resources_as_the_console_format_decodes_them(
    make_uplinks: Callable[..., SigfoxUplinks], store: CloudStore
) -> None:
    sensors = Sensors()
    uplinks = make_uplinks(sensors)
    await uplinks.start()
    try:
        await uplinks.send_now()
        sensors.values = {TEMP: -5.5, HUM: 99}
        await uplinks.send_now()
    finally:
        await uplinks.close()
    console = parse_parser_format(parser_format(FIELDS))
    assert parser_format(FIELDS) == "temp:0:int:16:/100 hum:2:uint:8"
    assert [unpack_frame(console, bytes.fromhex(str(e["data"]))) for e in stored(store)] == [
        {"temp": 21.25, "hum": 40}, {"temp": -5.5, "hum": 99}]


async def test_every_nth_uplink_asks_for_a_downlink_within_four_a_day(
    make_uplinks: Callable[..., SigfoxUplinks], simulated: SimulatedSigfoxModem, store: CloudStore
) -> None:
    received: list[bytes] = []

    async def on_downlink(data: bytes) -> None:
        received.append(data)

    uplinks = make_uplinks(Sensors(), downlink_every=2, on_downlink=on_downlink, clock=Clock(NOON))
    await uplinks.start()
    try:
        results = []
        for i in range(12):
            store.queue_sigfox_downlink(DEVICE_ID, bytes([i] * 8))
            results.append(await uplinks.send_now())
    finally:
        await uplinks.close()
    asked = [command.endswith(",1") for command in simulated.commands if command.startswith("AT$SF")]
    assert asked == [False, True] * 4 + [False] * 4
    assert results == [None, bytes([1] * 8), None, bytes([3] * 8), None, bytes([5] * 8), None,
                       bytes([7] * 8)] + [None] * 4
    assert received == [r for r in results if r is not None]
    assert uplinks.downlinks == 4


async def test_spacing_applies_to_send_now(make_uplinks: Callable[..., SigfoxUplinks]) -> None:
    clock = Clock(NOON)
    uplinks = make_uplinks(Sensors(), clock=clock, min_interval=20.0, interval=20.0)
    await uplinks.start()
    try:
        await uplinks.send_now()
        clock.now += 5
        with pytest.raises(SigfoxBudgetExceeded, match="at least 20 s apart"):
            await uplinks.send_now()
        clock.now += 15
        await uplinks.send_now()
    finally:
        await uplinks.close()
    assert (uplinks.sent, uplinks.refused) == (2, 1)


async def test_a_resource_that_does_not_read_fails_the_uplink_without_spending_budget(
    make_uplinks: Callable[..., SigfoxUplinks], simulated: SimulatedSigfoxModem
) -> None:
    sensors = Sensors()
    sensors.broken.add(HUM)
    clock = Clock(NOON)
    uplinks = make_uplinks(sensors, clock=clock)
    await uplinks.start()
    try:
        with pytest.raises(SigfoxError, match="cannot read /3304/0/5700 for Sigfox field hum: no data from"):
            await uplinks.send_now()
    finally:
        await uplinks.close()
    assert (uplinks.sent, uplinks.failed) == (0, 1)
    assert uplinks.budget.uplinks_today(NOON) == 0
    assert simulated.commands == []


async def test_a_downlink_handler_that_fails_does_not_fail_the_uplink(
    make_uplinks: Callable[..., SigfoxUplinks], store: CloudStore
) -> None:
    async def on_downlink(data: bytes) -> None:
        raise RuntimeError("actuator stuck")

    uplinks = make_uplinks(Sensors(), downlink_every=1, on_downlink=on_downlink)
    await uplinks.start()
    try:
        store.queue_sigfox_downlink(DEVICE_ID, bytes(8))
        assert await uplinks.send_now() == bytes(8)
    finally:
        await uplinks.close()
    assert (uplinks.sent, uplinks.downlinks, uplinks.failed) == (1, 1, 0)


# ---- the schedule --------------------------------------------------------------------------------------


async def test_schedule_sends_every_interval(
    make_uplinks: Callable[..., SigfoxUplinks], store: CloudStore
) -> None:
    uplinks = make_uplinks(Sensors(), interval=0.05, min_interval=0.01)
    started = time.monotonic()
    await uplinks.start()
    try:
        await _until(lambda: uplinks.sent >= 3)
    finally:
        await uplinks.close()
    assert time.monotonic() - started >= 0.15  # the first uplink waits one interval
    assert len(stored(store)) == uplinks.sent
    assert uplinks.failed == uplinks.refused == 0


async def test_schedule_survives_a_hung_modem(
    make_uplinks: Callable[..., SigfoxUplinks], simulated: SimulatedSigfoxModem, store: CloudStore
) -> None:
    simulated.responsive = False
    uplinks = make_uplinks(Sensors(), interval=0.15, min_interval=0.01, command_timeout=0.1,
                           send_at_start=True)
    await uplinks.start()
    try:
        await _until(lambda: uplinks.failed >= 2)
        assert uplinks.sent == 0
        simulated.responsive = True
        await _until(lambda: uplinks.sent >= 1)
    finally:
        await uplinks.close()
    assert len(stored(store)) == uplinks.sent


async def test_schedule_counts_refusals_and_keeps_going(make_uplinks: Callable[..., SigfoxUplinks]) -> None:
    uplinks = make_uplinks(Sensors(), interval=0.03, min_interval=0.01, daily_limit=2, send_at_start=True)
    await uplinks.start()
    try:
        await _until(lambda: uplinks.refused >= 2)
    finally:
        await uplinks.close()
    assert uplinks.sent == 2


async def test_close_releases_the_port(make_uplinks: Callable[..., SigfoxUplinks]) -> None:
    uplinks = make_uplinks(Sensors())
    await uplinks.start()
    assert uplinks.modem.is_open
    await uplinks.close()
    assert not uplinks.modem.is_open
    await uplinks.close()


# ---- configuration ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "field"), [
    ({"interval": 0.5, "min_interval": 1.0}, "interval"),
    ({"interval": float("nan")}, "interval"),
    ({"min_interval": -1}, "min_interval"),
    ({"daily_limit": 141}, "daily_limit"),
    ({"daily_limit": 0}, "daily_limit"),
    ({"daily_downlink_limit": 5}, "daily_downlink_limit"),
    ({"downlink_every": -1}, "downlink_every"),
    ({"fields": []}, "fields"),
    ({"fields": [parse_field_spec(TEMP, "a:0:uint:16"), parse_field_spec(HUM, "b:1:uint:8")]}, "format"),
])
def test_bad_uplink_settings(options: dict[str, object], field: str) -> None:
    settings: dict[str, object] = {"modem": SigfoxModem(device="/dev/ttyUSB0"), "read": Sensors().read,
                                   "fields": FIELDS}
    settings.update(options)
    with pytest.raises(HardwareConfigError) as caught:
        SigfoxUplinks(**settings)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_an_interval_that_spends_the_day_early_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    SigfoxUplinks(modem=SigfoxModem(device="/dev/ttyUSB0"), read=Sensors().read, fields=FIELDS, interval=60)
    assert "spend the 140 uplinks of a day in 2.3 h" in caplog.text


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
