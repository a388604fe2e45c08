"""Simulated hardware for simulator mode: serial devices on real pseudo-terminals and a fake GPIO chip.

A profile written for a Raspberry Pi names a GPS on a serial port, a sensor that prints lines, a
button and an LED on ``gpiochip0``. In simulator mode the very same bindings run against this
module: :class:`SimulatedHardware` hands out

- pseudo-terminals (``os.openpty``) with a device playing on the master side, so the agent's
  pyserial code opens, reads and writes a real tty: a GPS (:class:`SimulatedGps`, GGA and RMC with
  valid checksums, once a second, along a moving track) and a line-protocol sensor
  (:class:`SimulatedLineSensor`, ``T=21.50 H=40.2`` lines, and an answer to ``READ?``). A profile
  names them ``port = "sim:gps"`` and ``port = "sim:sensor"``; other devices (the Sigfox modem) are
  added with :meth:`SimulatedHardware.add_serial_device`.
- :class:`~agent.hardware.gpio_fake.FakeGpioChip` instances by chip name, with a task that presses
  the registered buttons now and then, the way a person would (down, held, up).
- a scratch directory for file bindings (``path = "sim:fan-speed"``).

The pty's slave side stays open here as well, so the tty does not hang up while the agent closes
and reopens the port; a device writes without blocking and drops what a full tty does not take,
as a real UART does when nobody reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import math
import os
import random
import shutil
import tempfile
import tty
from pathlib import Path
from typing import Protocol

from ..hardware.gpio_fake import FakeGpioChip
from ..hardware.nmea import KNOTS_TO_MPS, build_sentence, format_latitude, format_longitude

log = logging.getLogger(__name__)

SIMULATED_SERIAL_KINDS = ("gps", "sensor", "sigfox")
"""The ``sim:KIND`` ports a profile may name (``sigfox`` must be added by whoever simulates it)."""

_METRES_PER_DEGREE = 111_320.0


class SerialDevice(Protocol):
    """A simulated device behind a pty: the agent opens ``path``."""

    @property
    def path(self) -> str:
        ...

    async def close(self) -> None:
        ...


class PtyDevice:
    """A device on the master side of a pseudo-terminal; the agent opens :attr:`path` (the slave)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self._path = os.ttyname(self._slave)
        self._buffer = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.closed = False
        self.lines_sent = 0
        self.bytes_dropped = 0
        self.lines_received: list[str] = []

    @property
    def path(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._path!r})"

    async def start(self) -> None:
        if self._loop is None and not self.closed:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._master, self._on_readable)
            self._task = self._loop.create_task(self._run())

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._loop is not None:
            self._loop.remove_reader(self._master)
        os.close(self._master)
        os.close(self._slave)

    async def _run(self) -> None:
        """The device's own activity (periodic output); nothing by default."""

    def write(self, data: bytes) -> None:
        """Send bytes to the agent; what the tty cannot take now is dropped, as on a real line."""
        if self.closed:
            return
        try:
            written = os.write(self._master, data)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            log.debug("%r: write failed: %s", self, exc)
            written = 0
        self.bytes_dropped += len(data) - written

    def send_line(self, text: str) -> None:
        """One line, CR LF terminated, as the device would print it."""
        self.write(text.encode() + b"\r\n")
        self.lines_sent += 1

    def _on_readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, OSError):
            return
        self._buffer += data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        while b"\n" in self._buffer:
            raw, _, rest = bytes(self._buffer).partition(b"\n")
            self._buffer[:] = rest
            line = raw.decode(errors="replace").strip()
            if line:
                self.lines_received.append(line)
                del self.lines_received[:-100]
                self.on_line(line)

    def on_line(self, line: str) -> None:
        """A line the agent sent to the device."""


class SimulatedGps(PtyDevice):
    """An NMEA 0183 GPS receiver moving along a wandering track: GGA and RMC every ``interval`` s."""

    def __init__(self, *, latitude: float = 35.681236, longitude: float = 139.767125, altitude: float = 40.0,
                 speed_mps: float = 8.0, interval: float = 1.0, seed: int | None = None) -> None:
        super().__init__("gps")
        self.latitude = latitude
        self.longitude = longitude
        self.altitude = altitude
        self.speed_mps = speed_mps
        self.course = 90.0
        self.interval = interval
        self.has_fix = True
        self._random = random.Random(seed)

    async def _run(self) -> None:
        while True:
            self.emit()
            await asyncio.sleep(self.interval)
            self.move(self.interval)

    def move(self, seconds: float) -> None:
        """Advance along the track; the course wanders a few degrees a second."""
        self.course = (self.course + self._random.uniform(-5.0, 5.0) * seconds) % 360.0
        distance = self.speed_mps * seconds
        heading = math.radians(self.course)
        self.latitude += distance * math.cos(heading) / _METRES_PER_DEGREE
        cos_lat = max(math.cos(math.radians(self.latitude)), 1e-6)
        self.longitude += distance * math.sin(heading) / (_METRES_PER_DEGREE * cos_lat)
        self.longitude = (self.longitude + 180.0) % 360.0 - 180.0
        self.latitude = max(min(self.latitude, 89.9), -89.9)

    def set_position(self, latitude: float, longitude: float, altitude: float | None = None) -> None:
        self.latitude, self.longitude = latitude, longitude
        if altitude is not None:
            self.altitude = altitude

    def sentences(self, now: datetime.datetime | None = None) -> list[str]:
        """The GGA and RMC sentences for the current position at ``now`` (UTC)."""
        now = now or datetime.datetime.now(datetime.UTC)
        clock = now.strftime("%H%M%S.") + f"{now.microsecond // 10000:02d}"
        lat, ns = format_latitude(self.latitude)
        lon, ew = format_longitude(self.longitude)
        quality = "1" if self.has_fix else "0"
        gga = build_sentence("GPGGA", [clock, lat, ns, lon, ew, quality, "08", "0.9", f"{self.altitude:.1f}", "M",
                                       "39.0", "M", "", ""])
        knots = self.speed_mps / KNOTS_TO_MPS
        rmc = build_sentence("GPRMC", [clock, "A" if self.has_fix else "V", lat, ns, lon, ew, f"{knots:.2f}",
                                       f"{self.course:.1f}", now.strftime("%d%m%y"), "", "", "A"])
        return [gga, rmc]

    def emit(self) -> None:
        for sentence in self.sentences():
            self.send_line(sentence)


class SimulatedLineSensor(PtyDevice):
    """A temperature/humidity board printing ``T=21.50 H=40.2`` every ``interval`` s.

    It also answers ``READ?`` with the same line at once (for request/response bindings) and
    anything else with ``ERR``.
    """

    def __init__(self, *, temperature: float = 21.5, humidity: float = 40.0, interval: float = 1.0,
                 seed: int | None = None) -> None:
        super().__init__("sensor")
        self.temperature = temperature
        self.humidity = humidity
        self.interval = interval
        self._random = random.Random(seed)

    def reading(self) -> str:
        return f"T={self.temperature:.2f} H={self.humidity:.1f}"

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.temperature = min(max(self.temperature + self._random.uniform(-0.2, 0.2), -20.0), 50.0)
            self.humidity = min(max(self.humidity + self._random.uniform(-0.5, 0.5), 5.0), 95.0)
            self.send_line(self.reading())

    def on_line(self, line: str) -> None:
        self.send_line(self.reading() if line.upper() == "READ?" else "ERR")


class SimulatedHardware:
    """The simulated devices of one simulated agent; :meth:`close` releases them all.

    ``press_interval`` (seconds, min and max) is how often each registered button is pressed by
    the background task; None presses only when asked (:meth:`press_button`).
    """

    def __init__(self, *, press_interval: tuple[float, float] | None = (10.0, 30.0), press_hold: float = 0.2,
                 gps_interval: float = 1.0, sensor_interval: float = 1.0, seed: int | None = None) -> None:
        self.press_interval = press_interval
        self.press_hold = press_hold
        self.gps_interval = gps_interval
        self.sensor_interval = sensor_interval
        self._random = random.Random(seed)
        self._seed = seed
        self._chips: dict[str, FakeGpioChip] = {}
        self._buttons: list[tuple[str, int | str]] = []
        self._serial: dict[str, SerialDevice] = {}
        self._scratch: Path | None = None
        self._presser: asyncio.Task[None] | None = None
        self.presses = 0

    # ---- GPIO ------------------------------------------------------------------------------------
    def gpio_chip(self, name: str) -> FakeGpioChip:
        """The fake chip standing in for ``name`` (one per name)."""
        chip = self._chips.get(name)
        if chip is None:
            chip = FakeGpioChip(name)
            self._chips[name] = chip
        return chip

    def add_button(self, chip: str, line: int | str) -> None:
        """Have the background task press the input ``line`` of ``chip`` now and then."""
        if (chip, line) not in self._buttons:
            self._buttons.append((chip, line))

    async def press_button(self, chip: str, line: int | str, hold: float | None = None) -> None:
        """A person's press: the line leaves its idle level, stays ``hold`` seconds, comes back."""
        fake = self.gpio_chip(chip)
        idle = fake.level(line)
        fake.set_input(line, not idle)
        try:
            await asyncio.sleep(self.press_hold if hold is None else hold)
        finally:
            # Stopped mid-press (the simulator is closing): a button does not stay held down.
            fake.set_input(line, idle)
        self.presses += 1

    async def _press_loop(self, low: float, high: float) -> None:
        while True:
            await asyncio.sleep(self._random.uniform(low, high))
            for chip, line in list(self._buttons):
                try:
                    await self.press_button(chip, line)
                except OSError as exc:  # the line is an output or not requested the way we think
                    log.debug("simulated press on %s line %s failed: %s", chip, line, exc)

    # ---- serial devices ------------------------------------------------------------------------------
    def add_serial_device(self, kind: str, device: SerialDevice) -> None:
        """Make ``sim:KIND`` name ``device`` (e.g. a simulated Sigfox modem on its own pty)."""
        if kind in self._serial:
            raise ValueError(f"a simulated {kind} device already exists")
        self._serial[kind] = device

    async def serial_port(self, kind: str) -> str:
        """The pty path of the simulated ``kind`` device, started on first use."""
        device = self._serial.get(kind)
        if device is None:
            if kind == "gps":
                device = SimulatedGps(interval=self.gps_interval, seed=self._seed)
            elif kind == "sensor":
                device = SimulatedLineSensor(interval=self.sensor_interval, seed=self._seed)
            else:
                known = ", ".join(sorted({"gps", "sensor", *self._serial}))
                raise LookupError(f"the simulator has no {kind!r} device (it has {known})")
            self._serial[kind] = device
            await device.start()
        return device.path

    def serial_device(self, kind: str) -> SerialDevice:
        """The device behind ``sim:KIND`` (after :meth:`serial_port` created it)."""
        return self._serial[kind]

    @property
    def gps(self) -> SimulatedGps:
        device = self._serial["gps"]
        assert isinstance(device, SimulatedGps)
        return device

    @property
    def sensor(self) -> SimulatedLineSensor:
        device = self._serial["sensor"]
        assert isinstance(device, SimulatedLineSensor)
        return device

    # ---- files -------------------------------------------------------------------------------------
    def file_path(self, name: str) -> str:
        """A path for ``sim:NAME`` in this simulator's scratch directory (removed on close)."""
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="lwm2m-sim-"))
        path = (self._scratch / name).resolve()
        if self._scratch.resolve() not in path.parents:
            raise ValueError(f"sim:{name} leaves the simulator's directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    # ---- life cycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start pressing the buttons (devices start when their port is first asked for)."""
        if self._presser is None and self.press_interval is not None:
            low, high = self.press_interval
            self._presser = asyncio.get_running_loop().create_task(self._press_loop(low, high))

    async def stop_pressing(self) -> None:
        """Stop the background presses (a press under way is completed)."""
        if self._presser is not None:
            self._presser.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._presser
            self._presser = None

    async def close(self) -> None:
        await self.stop_pressing()
        for device in list(self._serial.values()):
            await device.close()
        self._serial.clear()
        for chip in self._chips.values():
            chip.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
