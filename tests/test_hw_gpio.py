"""GPIO bindings on the fake chip, through the same file-descriptor event path as libgpiod."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import AsyncIterator

import pytest

from agent.core.errors import BadRequest, MethodNotAllowed, ServiceUnavailable
from agent.hardware import (
    Bias,
    FakeGpioChip,
    GpioCounterReset,
    GpioInput,
    GpioInputLine,
    GpioOutput,
    HardwareConfigError,
    LibgpiodChip,
)
from agent.hardware.gpio_chip import wait_edge_events


class Changes:
    def __init__(self, binding: GpioInput) -> None:
        self.times: list[float] = []
        self._event = asyncio.Event()
        binding.add_listener(self._on_change)

    def _on_change(self) -> None:
        self.times.append(time.perf_counter())
        self._event.set()

    async def next(self, timeout: float = 1.0) -> None:
        await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()


@pytest.fixture
async def button() -> AsyncIterator[tuple[FakeGpioChip, GpioInputLine, dict[str, GpioInput]]]:
    chip = FakeGpioChip()
    line = GpioInputLine(chip=chip, line=17, active_low=True, bias="pull-up")
    bindings = {field: GpioInput(gpio=line, field=field) for field in ("state", "counter", "timestamp", "polarity")}
    for binding in bindings.values():
        await binding.start()
    yield chip, line, bindings
    for binding in bindings.values():
        await binding.close()
    chip.close()


async def test_an_edge_notifies_within_10_ms(button: tuple[FakeGpioChip, GpioInputLine, dict[str, GpioInput]]) -> None:
    chip, _, bindings = button
    state = bindings["state"]
    assert await state.read() is False  # pulled up and active-low: released
    changes = Changes(state)
    for level in (False, True, False, True):  # press, release, press, release
        sent = time.perf_counter()
        chip.set_input(17, level)
        await changes.next()
        assert changes.times[-1] - sent < 0.010
        assert await state.read() is (not level)


async def test_a_click_counts_and_stamps(button: tuple[FakeGpioChip, GpioInputLine, dict[str, GpioInput]]) -> None:
    chip, _, bindings = button
    counter_changes = Changes(bindings["counter"])
    before = int(time.time())
    chip.press(17)
    chip.press(17)
    await counter_changes.next()
    await asyncio.sleep(0.01)
    assert await bindings["counter"].read() == 2
    assert await bindings["state"].read() is False  # the button was let go
    stamp = await bindings["timestamp"].read()
    assert isinstance(stamp, int) and before <= stamp <= int(time.time())


async def test_counter_reset(button: tuple[FakeGpioChip, GpioInputLine, dict[str, GpioInput]]) -> None:
    chip, line, bindings = button
    changes = Changes(bindings["counter"])
    chip.press(17)
    await changes.next()
    await GpioCounterReset(gpio=line).execute("")
    await changes.next()
    assert await bindings["counter"].read() == 0


async def test_polarity_is_writable(button: tuple[FakeGpioChip, GpioInputLine, dict[str, GpioInput]]) -> None:
    _, _, bindings = button
    assert await bindings["polarity"].read() is True
    assert await bindings["state"].read() is False
    await bindings["polarity"].write(False)  # now a high level (released, pulled up) is active
    assert await bindings["state"].read() is True
    with pytest.raises(BadRequest):
        await bindings["polarity"].write(1)
    with pytest.raises(MethodNotAllowed):
        await bindings["state"].write(True)


async def test_timestamp_before_any_edge_is_unavailable(
    button: tuple[FakeGpioChip, GpioInputLine, dict[str, GpioInput]],
) -> None:
    _, _, bindings = button
    with pytest.raises(ServiceUnavailable):
        await bindings["timestamp"].read()


async def test_output_write_drives_the_line() -> None:
    chip = FakeGpioChip()
    led = GpioOutput(chip=chip, line=27)
    relay = GpioOutput(chip=chip, line=22, active_low=True, initial=False)
    await led.start()
    await relay.start()
    try:
        assert chip.output_value(27) is False
        assert chip.output_value(22) is True  # active-low and off: driven high
        notified: list[bool] = []
        led.add_listener(lambda: notified.append(True))
        await led.write(True)
        assert chip.output_value(27) is True
        assert await led.read() is True
        assert notified == [True]
        await relay.write(True)
        assert chip.output_value(22) is False
        assert await relay.read() is True
        with pytest.raises(BadRequest):
            await led.write("on")
    finally:
        await led.close()
        await relay.close()


async def test_a_busy_or_missing_line_answers_503_and_is_retried() -> None:
    chip = FakeGpioChip(num_lines=8)
    owner = chip.request_output(3)
    taken = GpioOutput(chip=chip, line=3, retry_interval=0.05)
    await taken.start()
    try:
        with pytest.raises(ServiceUnavailable) as excinfo:
            await taken.write(True)
        assert "cannot request line 3" in excinfo.value.message and "already requested" in excinfo.value.message
        owner.release()
        await asyncio.sleep(0.06)
        await taken.write(True)  # retried on access, now free
        assert chip.output_value(3) is True
    finally:
        await taken.close()
    missing_line = GpioInputLine(chip=chip, line=99)
    state = GpioInput(gpio=missing_line)
    await state.start()
    with pytest.raises(ServiceUnavailable) as excinfo:
        await state.read()
    assert "line 99" in excinfo.value.message
    await state.close()


@pytest.mark.skipif(importlib.util.find_spec("gpiod") is not None, reason="gpiod is installed here")
async def test_libgpiod_chip_without_gpiod_answers_503_with_the_fix() -> None:
    line = GpioInputLine(chip=LibgpiodChip("gpiochip0"), line=17)
    state = GpioInput(gpio=line)
    await state.start()
    try:
        with pytest.raises(ServiceUnavailable) as excinfo:
            await state.read()
        assert "pip install 'gpiod>=2.0'" in excinfo.value.message
    finally:
        await state.close()


async def test_wait_edge_events_awaits_the_fd() -> None:
    chip = FakeGpioChip()
    request = chip.request_input(4, bias=Bias.PULL_DOWN)
    assert request.get_value() is False
    waiter = asyncio.get_running_loop().create_task(wait_edge_events(request))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    chip.set_input(4, True)
    events = await asyncio.wait_for(waiter, 1.0)
    assert [(e.line, e.rising) for e in events] == [(4, True)]
    request.release()


def test_bad_gpio_arguments_name_the_field() -> None:
    chip = FakeGpioChip()
    for kwargs, field in (({"line": -1}, "line"), ({"line": True}, "line"), ({"line": 1, "bias": "up"}, "bias"),
                          ({"line": 1, "debounce_ms": -5}, "debounce_ms")):
        with pytest.raises(HardwareConfigError) as excinfo:
            GpioInputLine(chip=chip, **kwargs)
        assert excinfo.value.field == field
    line = GpioInputLine(chip=chip, line=1)
    with pytest.raises(HardwareConfigError) as excinfo:
        GpioInput(gpio=line, field="level")
    assert excinfo.value.field == "field"
