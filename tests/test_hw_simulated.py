"""Constants, simulated sources and the shared ticker that steps them."""

from __future__ import annotations

import asyncio
import math

import pytest

from agent.core.model import ObjectLink, ResourceType
from agent.hardware import (
    Constant,
    Counter,
    Cycle,
    HardwareConfigError,
    RandomWalk,
    SineWave,
    Ticker,
    Toggle,
)
from agent.hardware.ticker import shared_ticker


async def collect_changes(source: object, count: int, timeout: float = 2.0) -> list[object]:
    """Start ``source`` and gather its value at each of the next ``count`` changed() calls."""
    values: list[object] = []
    done = asyncio.Event()

    async def read_now() -> None:
        values.append(await source.read())  # type: ignore[attr-defined]
        if len(values) >= count:
            done.set()

    def on_change() -> None:
        asyncio.get_running_loop().create_task(read_now())

    source.add_listener(on_change)  # type: ignore[attr-defined]
    await source.start()  # type: ignore[attr-defined]
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        await source.close()  # type: ignore[attr-defined]
    return values


async def test_constant_reads_its_value_and_refuses_writes() -> None:
    constant = Constant("Raspberry Pi 4", rtype=ResourceType.STRING)
    assert await constant.read() == "Raspberry Pi 4"
    with pytest.raises(Exception) as excinfo:
        await constant.write("x")
    assert getattr(excinfo.value, "code", None) == (4, 5)


async def test_constant_checks_its_type() -> None:
    assert await Constant("3:1", rtype=ResourceType.OBJLNK).read() == ObjectLink(3, 1)
    assert await Constant({0: 1, 1: 6}, rtype=ResourceType.INTEGER).read() == {0: 1, 1: 6}
    with pytest.raises(HardwareConfigError) as excinfo:
        Constant("many", rtype=ResourceType.INTEGER)
    assert excinfo.value.field == "value"


async def test_random_walk_stays_in_range_and_notifies() -> None:
    walk = RandomWalk(minimum=20.0, maximum=21.0, step=0.8, seed=1, interval=0.005, ticker=Ticker())
    values = await collect_changes(walk, 30)
    assert len(values) >= 30
    assert all(isinstance(v, float) and 20.0 <= v <= 21.0 for v in values)
    assert len(set(values)) > 5


async def test_seeded_random_walks_repeat() -> None:
    def run(seed: int) -> list[object]:
        walk = RandomWalk(minimum=0, maximum=10, step=1, seed=seed, interval=1.0)
        return [walk.step() for _ in range(20)]

    assert run(7) == run(7)
    assert run(7) != run(8)


async def test_integer_random_walk_gives_integers() -> None:
    walk = RandomWalk(rtype=ResourceType.INTEGER, minimum=-5, maximum=5, step=3, seed=3, interval=1.0)
    values = [walk.step() for _ in range(50)]
    assert all(type(v) is int and -5 <= v <= 5 for v in values)


async def test_sine_wave_follows_its_formula() -> None:
    wave = SineWave(period=0.2, amplitude=2.0, offset=10.0, interval=0.01, ticker=Ticker())
    values = await collect_changes(wave, 25)
    assert all(isinstance(v, float) and 8.0 - 1e-9 <= v <= 12.0 + 1e-9 for v in values)
    # Over more than a period the wave goes both above and below its offset.
    assert max(values) > 11.0 and min(values) < 9.0  # type: ignore[type-var, operator]


async def test_counter_counts_and_wraps() -> None:
    counter = Counter(start=1, step=2, maximum=7, interval=1.0)
    assert await counter.read() == 1
    values = []
    for _ in range(5):
        counter._tick()
        values.append(await counter.read())
    assert values == [3, 5, 7, 1, 3]


async def test_counter_as_time_resource() -> None:
    counter = Counter(rtype=ResourceType.TIME, start=1_700_000_000, step=60, interval=1.0)
    counter._tick()
    assert await counter.read() == 1_700_000_060


async def test_toggle_flips_every_tick() -> None:
    toggle = Toggle(initial=True, interval=0.005, ticker=Ticker())
    values = await collect_changes(toggle, 6)
    assert values[:6] == [False, True, False, True, False, True]


async def test_cycle_serves_any_type() -> None:
    links = Cycle(choices=["3:0", "4:0"], rtype=ResourceType.OBJLNK, interval=1.0)
    assert await links.read() == ObjectLink(3, 0)
    links._tick()
    assert await links.read() == ObjectLink(4, 0)
    links._tick()
    assert await links.read() == ObjectLink(3, 0)
    blobs = Cycle(choices=[b"\x00", b"\x01"], rtype=ResourceType.OPAQUE, interval=1.0)
    blobs._tick()
    assert await blobs.read() == b"\x01"


@pytest.mark.parametrize(
    ("factory", "field"),
    [
        (lambda: RandomWalk(minimum=5, maximum=1), "minimum"),
        (lambda: RandomWalk(start=50, minimum=0, maximum=10), "start"),
        (lambda: RandomWalk(rtype=ResourceType.STRING), "rtype"),
        (lambda: SineWave(period=0), "period"),
        (lambda: Toggle(interval=0), "interval"),
        (lambda: Toggle(interval=-1), "interval"),
        (lambda: Cycle(choices=[]), "choices"),
        (lambda: Cycle(choices="abc"), "choices"),
        (lambda: Cycle(choices=["x"], rtype=ResourceType.INTEGER), "choices"),
        (lambda: Counter(rtype=ResourceType.UNSIGNED_INTEGER, start=-1), "start"),
    ],
)
def test_bad_source_arguments_name_the_field(factory: object, field: str) -> None:
    with pytest.raises(HardwareConfigError) as excinfo:
        factory()  # type: ignore[operator]
    assert excinfo.value.field == field
    assert excinfo.value.fix


async def test_a_thousand_sources_share_one_timer() -> None:
    ticker = Ticker()
    sources = [RandomWalk(minimum=0, maximum=1, step=0.1, interval=0.01, ticker=ticker) for _ in range(1000)]
    changes = 0

    def count() -> None:
        nonlocal changes
        changes += 1

    for source in sources:
        source.add_listener(count)
        await source.start()
    assert ticker.timer_count == 1
    started = asyncio.get_running_loop().time()
    while changes < 1000 * 3 and asyncio.get_running_loop().time() - started < 5.0:
        await asyncio.sleep(0.01)
    assert changes >= 1000 * 3  # every source moved a few times (a step of 0 is rare, not impossible)
    for source in sources:
        await source.close()
    assert ticker.timer_count == 0
    settled = changes
    await asyncio.sleep(0.03)
    assert changes == settled  # closed sources no longer tick


async def test_ticker_groups_by_period_and_keeps_going_after_a_failing_callback() -> None:
    ticker = Ticker()
    calls: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    stop_a = ticker.subscribe(0.01, broken)
    stop_b = ticker.subscribe(0.01, lambda: calls.append("b"))
    stop_c = ticker.subscribe(0.02, lambda: calls.append("c"))
    assert ticker.timer_count == 2
    await asyncio.sleep(0.08)
    assert calls.count("b") >= 3 and calls.count("c") >= 1
    for stop in (stop_a, stop_b, stop_c):
        stop()
    assert ticker.timer_count == 0
    with pytest.raises(ValueError):
        ticker.subscribe(0, lambda: None)


async def test_sources_use_the_loops_shared_ticker_by_default() -> None:
    toggle = Toggle(interval=0.5)
    await toggle.start()
    assert shared_ticker().timer_count >= 1
    await toggle.close()


async def test_simulated_sources_are_slim() -> None:
    walk = RandomWalk(interval=1.0)
    assert not hasattr(walk, "__dict__")
    assert math.isfinite(walk.value)  # type: ignore[arg-type]
