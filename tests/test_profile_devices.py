"""Simulated hardware (agent.simulator.devices): GPS and line sensor on real ptys, button presses, files."""

from __future__ import annotations

import asyncio
import datetime
import math
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.hardware import GpioInput, GpioInputLine, SerialPortReader
from agent.hardware.nmea import NmeaTracker, parse_sentence
from agent.simulator.devices import SimulatedGps, SimulatedHardware, SimulatedLineSensor


async def read_lines(reader: SerialPortReader, count: int, timeout: float = 3.0) -> list[str]:
    lines: list[str] = []
    done = asyncio.Event()

    def on_line(line: str) -> None:
        lines.append(line)
        if len(lines) >= count:
            done.set()

    unsubscribe = reader.subscribe(on_line)
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        unsubscribe()
    return lines


@given(st.floats(-89.0, 89.0), st.floats(-179.9, 179.9), st.floats(-100.0, 5000.0))
@settings(max_examples=100)
def test_gps_sentences_carry_the_position(latitude: float, longitude: float, altitude: float) -> None:
    gps = SimulatedGps()
    try:
        gps.set_position(latitude, longitude, altitude)
        tracker = NmeaTracker()
        now = datetime.datetime(2025, 6, 1, 12, 30, 15, 250000, tzinfo=datetime.UTC)
        for sentence in gps.sentences(now):
            assert parse_sentence(sentence).kind in ("GGA", "RMC")  # valid checksum
            assert tracker.feed(sentence, now.timestamp())
        assert tracker.has_fix
        assert tracker.latitude is not None and abs(tracker.latitude - latitude) < 1e-6
        assert tracker.longitude is not None and abs(tracker.longitude - longitude) < 1e-6
        assert tracker.altitude is not None and abs(tracker.altitude - round(altitude, 1)) < 1e-9
        assert tracker.timestamp == int(now.timestamp())
        assert tracker.speed_mps is not None and abs(tracker.speed_mps - gps.speed_mps) < 0.01
    finally:
        os.close(gps._master)
        os.close(gps._slave)


def test_gps_moves_along_its_course() -> None:
    gps = SimulatedGps(seed=1, speed_mps=10.0)
    try:
        start = (gps.latitude, gps.longitude)
        for _ in range(10):
            gps.move(1.0)
        north = (gps.latitude - start[0]) * 111_320
        east = (gps.longitude - start[1]) * 111_320 * math.cos(math.radians(start[0]))
        metres = math.hypot(north, east)
        assert 50 < metres <= 101
    finally:
        os.close(gps._master)
        os.close(gps._slave)


async def test_gps_on_a_pty_sends_gga_and_rmc_every_interval() -> None:
    sim = SimulatedHardware(press_interval=None, gps_interval=0.05)
    reader = SerialPortReader(device=await sim.serial_port("gps"))
    await reader.start()
    try:
        lines = await read_lines(reader, 6)
        kinds = [parse_sentence(line).kind for line in lines]
        assert kinds[:2] in (["GGA", "RMC"], ["RMC", "GGA"]) and set(kinds) == {"GGA", "RMC"}
    finally:
        await reader.close()
        await sim.close()


async def test_line_sensor_prints_and_answers_queries() -> None:
    sim = SimulatedHardware(press_interval=None, sensor_interval=0.05, seed=3)
    reader = SerialPortReader(device=await sim.serial_port("sensor"))
    await reader.start()
    try:
        lines = await read_lines(reader, 2)
        assert all(line.startswith("T=") and " H=" in line for line in lines)
        sim.sensor.temperature = 19.0
        answer = await reader.request(b"READ?\r\n", accept=lambda line: line.startswith("T=19.00"), timeout=2.0)
        assert answer.startswith("T=19.00 H=")
        assert await reader.request(b"WHAT\r\n", accept=lambda line: line == "ERR", timeout=2.0) == "ERR"
    finally:
        await reader.close()
        await sim.close()


async def test_sensor_drops_what_a_full_tty_does_not_take() -> None:
    sensor = SimulatedLineSensor()
    try:
        for _ in range(20_000):  # nobody reads: the tty fills up, writes never block
            sensor.send_line("T=1.00 H=2.0")
        assert sensor.bytes_dropped > 0
    finally:
        await sensor.close()


async def test_background_presses_reach_the_input_line() -> None:
    sim = SimulatedHardware(press_interval=(0.01, 0.02), press_hold=0.01)
    chip = sim.gpio_chip("gpiochip0")
    line = GpioInputLine(chip=chip, line=17, bias="pull-up", active_low=True)
    counter = GpioInput(gpio=line, field="counter")
    await counter.start()
    sim.add_button("gpiochip0", 17)
    await sim.start()
    try:
        for _ in range(100):
            if await counter.read() >= 2:  # type: ignore[operator]
                break
            await asyncio.sleep(0.02)
        assert await counter.read() >= 2  # type: ignore[operator]
        await sim.stop_pressing()
        state = GpioInput(gpio=line, field="state")
        for _ in range(100):  # the release edge reaches the line through the event loop
            if await state.read() is False:
                break
            await asyncio.sleep(0.01)
        assert await state.read() is False  # a stopped press is released
    finally:
        await counter.close()
        await sim.close()


async def test_serial_devices_and_files() -> None:
    sim = SimulatedHardware(press_interval=None)
    try:
        with pytest.raises(LookupError, match="no 'sigfox' device"):
            await sim.serial_port("sigfox")
        modem = SimulatedLineSensor()
        sim.add_serial_device("sigfox", modem)
        assert await sim.serial_port("sigfox") == modem.path
        path = sim.file_path("fan/speed")
        assert os.path.isdir(os.path.dirname(path))
        with pytest.raises(ValueError):
            sim.file_path("../escape")
    finally:
        await sim.close()
    assert modem.closed and not os.path.exists(os.path.dirname(path))
