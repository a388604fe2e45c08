"""Serial sensors through real pseudo-terminals: NMEA GPS, line protocols, queries, unplug and re-plug."""

from __future__ import annotations

import asyncio
import datetime
import os
import tty
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.core.errors import ServiceUnavailable
from agent.core.model import ResourceType
from agent.hardware import HardwareConfigError, NmeaField, NmeaReceiver, SerialLineValue, SerialPortReader, SerialQuery
from agent.hardware.nmea import (
    NmeaError,
    NmeaTracker,
    build_sentence,
    encode_horizontal_velocity,
    format_latitude,
    format_longitude,
    parse_sentence,
)
from agent.hardware.readings import LineSelector, parse_reading


class Pty:
    """A pseudo-terminal: the test plays the device on the master side; ``path`` is the port."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.closed = False

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.master)
            os.close(self.slave)


@pytest.fixture
async def pty() -> AsyncIterator[Pty]:
    device = Pty()
    yield device
    device.close()


def port_for(path: str | Path, **kwargs: object) -> SerialPortReader:
    options: dict[str, object] = {"reconnect_delay": 0.02, "reconnect_max_delay": 0.1}
    options.update(kwargs)
    return SerialPortReader(device=str(path), **options)  # type: ignore[arg-type]


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


class Changes:
    """Counts a binding's changed() calls and lets a test wait for the next one."""

    def __init__(self, binding: object) -> None:
        self.count = 0
        self._event = asyncio.Event()
        binding.add_listener(self._on_change)  # type: ignore[attr-defined]

    def _on_change(self) -> None:
        self.count += 1
        self._event.set()

    async def next(self, timeout: float = 2.0) -> None:
        await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()


def gga(lat: float, lon: float, *, alt: float = 40.5, hdop: float = 0.9, quality: int = 1,
        time_of_day: str = "123519.00") -> str:
    la, ns = format_latitude(lat)
    lo, ew = format_longitude(lon)
    return build_sentence("GPGGA", [time_of_day, la, ns, lo, ew, str(quality), "08", f"{hdop}", f"{alt}", "M",
                                    "46.9", "M", "", ""]) + "\r\n"


def rmc(lat: float, lon: float, *, knots: float = 10.0, course: float = 84.4, date: str = "230394",
        time_of_day: str = "123519.00", status: str = "A") -> str:
    la, ns = format_latitude(lat)
    lo, ew = format_longitude(lon)
    return build_sentence("GNRMC", [time_of_day, status, la, ns, lo, ew, f"{knots}", f"{course}", date, "003.1",
                                    "W"]) + "\r\n"


# ---- NMEA over a pty ----------------------------------------------------------------------------

async def test_gps_fields_come_from_one_shared_port(pty: Pty) -> None:
    port = port_for(pty.path)
    fields = {name: NmeaField(port=port, field=name)
              for name in ("latitude", "longitude", "altitude", "radius", "timestamp", "speed", "velocity")}
    latitude_changes = Changes(fields["latitude"])
    for binding in fields.values():
        await binding.start()
    try:
        assert port.connects == 1  # one port opened for seven resources
        pty.send(rmc(35.681236, 139.767125, knots=10.0, course=90.0))
        pty.send(gga(35.681236, 139.767125, alt=40.5, hdop=1.2))
        await latitude_changes.next()
        await until(lambda: NmeaReceiver.for_port(port).sentences >= 2)
        assert await fields["latitude"].read() == pytest.approx(35.681236, abs=1e-7)
        assert await fields["longitude"].read() == pytest.approx(139.767125, abs=1e-7)
        assert await fields["altitude"].read() == 40.5
        assert await fields["radius"].read() == pytest.approx(6.0)  # HDOP x 5 m without GST
        expected = datetime.datetime(1994, 3, 23, 12, 35, 19, tzinfo=datetime.UTC)
        assert await fields["timestamp"].read() == int(expected.timestamp())
        assert await fields["speed"].read() == pytest.approx(5.144, abs=1e-3)
        assert await fields["velocity"].read() == encode_horizontal_velocity(90.0, 10 * 1852 / 3600)
        # GST gives the error estimate directly.
        pty.send(build_sentence("GPGST", ["123519.00", "1.0", "", "", "", "3.0", "4.0", "5.0"]) + "\r\n")
        await until(lambda: NmeaReceiver.for_port(port).sentences >= 3)
        assert await fields["radius"].read() == pytest.approx(5.0)
    finally:
        for binding in fields.values():
            await binding.close()
    assert not port.is_open  # the last user closed it


async def test_new_positions_notify_and_same_positions_do_not(pty: Pty) -> None:
    port = port_for(pty.path)
    latitude = NmeaField(port=port, field="latitude")
    changes = Changes(latitude)
    await latitude.start()
    try:
        pty.send(gga(10.0, 20.0))
        await changes.next()
        pty.send(gga(10.0, 20.0, alt=99.0))
        pty.send(gga(10.5, 20.0))
        await changes.next()
        assert changes.count == 2
        assert await latitude.read() == pytest.approx(10.5)
    finally:
        await latitude.close()


async def test_corrupt_sentences_are_counted_not_fatal(pty: Pty, caplog: pytest.LogCaptureFixture) -> None:
    port = port_for(pty.path)
    latitude = NmeaField(port=port, field="latitude")
    changes = Changes(latitude)
    await latitude.start()
    try:
        good = gga(-33.8688, 151.2093)
        corrupted = good[:20] + ("7" if good[20] != "7" else "8") + good[21:]
        pty.send(corrupted)
        pty.send("$GPGGA,no,checksum\r\n")
        pty.send("\x00\xff garbage \x1b[2J\r\n")
        pty.send("$GPGGA,123519,9900.000,N,00000.000,E,1,08,0.9,1.0,M,,,,*00\r\n")
        pty.send(good)
        await changes.next()
        receiver = NmeaReceiver.for_port(port)
        assert receiver.bad_sentences.count == 4
        assert "bad input from NMEA on" in caplog.text
        assert await latitude.read() == pytest.approx(-33.8688)
    finally:
        await latitude.close()


async def test_no_fix_answers_503(pty: Pty) -> None:
    port = port_for(pty.path)
    latitude = NmeaField(port=port, field="latitude")
    await latitude.start()
    try:
        with pytest.raises(ServiceUnavailable):
            await latitude.read()
        pty.send(gga(1.0, 2.0))
        await until(lambda: NmeaReceiver.for_port(port).tracker.has_fix)
        pty.send(build_sentence("GPGGA", ["123520.00", "", "", "", "", "0", "00", "", "", "M", "", "M", "", ""])
                 + "\r\n")
        await until(lambda: not NmeaReceiver.for_port(port).tracker.has_fix)
        with pytest.raises(ServiceUnavailable) as excinfo:
            await latitude.read()
        assert "no position fix" in excinfo.value.message
    finally:
        await latitude.close()


# ---- unplug, silence, re-plug -------------------------------------------------------------------

async def test_closed_device_answers_503_then_reconnects_through_a_symlink(tmp_path: Path) -> None:
    first = Pty()
    link = tmp_path / "gps"
    os.symlink(first.path, link)
    port = port_for(link)
    latitude = NmeaField(port=port, field="latitude")
    changes = Changes(latitude)
    await latitude.start()
    second: Pty | None = None
    try:
        first.send(gga(35.0, 139.0))
        await changes.next()
        assert await latitude.read() == pytest.approx(35.0)

        first.close()  # unplugged
        await until(lambda: not port.is_open)
        with pytest.raises(ServiceUnavailable) as excinfo:
            await latitude.read()
        assert str(link) in excinfo.value.message
        await asyncio.sleep(0.1)  # a few failed reconnects against the dangling link
        with pytest.raises(ServiceUnavailable) as excinfo:
            await latitude.read()
        assert f"cannot open {link}" in excinfo.value.message

        second = Pty()  # plugged in again: udev points the stable link at the new device
        fresh = tmp_path / "gps.new"
        os.symlink(second.path, fresh)
        os.replace(fresh, link)
        await until(lambda: port.is_open)
        assert port.connects == 2
        second.send(gga(36.0, 140.0))
        await changes.next()
        assert await latitude.read() == pytest.approx(36.0)
    finally:
        await latitude.close()
        first.close()
        if second is not None:
            second.close()


async def test_missing_device_answers_503_with_the_open_error(tmp_path: Path) -> None:
    port = port_for(tmp_path / "ttyUSB9")
    value = SerialLineValue(port=port, rtype=ResourceType.FLOAT)
    await value.start()
    try:
        with pytest.raises(ServiceUnavailable) as excinfo:
            await value.read()
        assert excinfo.value.message == f"cannot open {tmp_path / 'ttyUSB9'}: No such file or directory"
    finally:
        await value.close()


async def test_silent_device_answers_503(pty: Pty) -> None:
    port = port_for(pty.path, silence_timeout=0.15)
    value = SerialLineValue(port=port, rtype=ResourceType.INTEGER)
    changes = Changes(value)
    await value.start()
    try:
        pty.send("42\n")
        await changes.next()
        assert await value.read() == 42
        await asyncio.sleep(0.3)
        with pytest.raises(ServiceUnavailable) as excinfo:
            await value.read()
        assert excinfo.value.message.startswith(f"no data from {pty.path} for ")
        pty.send("42\n")
        await until(lambda: port.unavailable_reason() is None)
        assert await value.read() == 42
    finally:
        await value.close()


# ---- line protocols ----------------------------------------------------------------------------

async def test_line_values_by_pattern_and_field(pty: Pty) -> None:
    port = port_for(pty.path)
    temperature = SerialLineValue(port=port, rtype=ResourceType.FLOAT, pattern=r"^T=(?P<value>-?[\d.]+)")
    humidity = SerialLineValue(port=port, rtype=ResourceType.INTEGER, pattern=r"^H,", field=2, separator=",")
    door = SerialLineValue(port=port, rtype=ResourceType.BOOLEAN, pattern=r"^DOOR (\w+)$")
    t_changes, h_changes, d_changes = Changes(temperature), Changes(humidity), Changes(door)
    for binding in (temperature, humidity, door):
        await binding.start()
    try:
        with pytest.raises(ServiceUnavailable) as excinfo:
            await temperature.read()
        assert "no reading" in excinfo.value.message
        # Lines split across writes and mixed line ends still make whole lines.
        pty.send("T=21.")
        await asyncio.sleep(0.01)
        pty.send("5\rH,sensor1,48\r\nDOOR off\nH,short\n")
        await t_changes.next()
        await h_changes.next()
        await d_changes.next()
        assert await temperature.read() == 21.5
        assert await humidity.read() == 48
        assert await door.read() is False
        await until(lambda: humidity.bad_lines.count == 1)  # "H,short" has no field 2
        pty.send("T=1.2.3\nDOOR ajar\nDOOR on\n")
        await d_changes.next()
        assert await door.read() is True
        assert temperature.bad_lines.count == 1
        assert door.bad_lines.count == 1
        assert await temperature.read() == 21.5  # a bad line does not erase the last good value
    finally:
        for binding in (temperature, humidity, door):
            await binding.close()


async def test_max_age_makes_old_values_unavailable(pty: Pty) -> None:
    port = port_for(pty.path)
    value = SerialLineValue(port=port, rtype=ResourceType.INTEGER, pattern=r"^A (\d+)", max_age=0.1)
    changes = Changes(value)
    await value.start()
    try:
        pty.send("A 1\n")
        await changes.next()
        assert await value.read() == 1
        await asyncio.sleep(0.15)
        pty.send("B 2\n")  # the port is alive, this value is not
        await asyncio.sleep(0.02)
        with pytest.raises(ServiceUnavailable) as excinfo:
            await value.read()
        assert "old" in excinfo.value.message
    finally:
        await value.close()


# ---- request / response ------------------------------------------------------------------------

async def answer_queries(pty: Pty, answers: dict[bytes, bytes]) -> None:
    """Play a sensor that echoes each query, then answers it."""
    loop = asyncio.get_running_loop()
    buffer = bytearray()
    readable = asyncio.Event()
    os.set_blocking(pty.master, False)  # a readiness seen by the event may already be consumed
    loop.add_reader(pty.master, readable.set)
    try:
        while True:
            await readable.wait()
            readable.clear()
            try:
                buffer += os.read(pty.master, 1024)
            except BlockingIOError:
                continue
            while b"\r\n" in buffer:
                query, _, rest = bytes(buffer).partition(b"\r\n")
                buffer[:] = rest
                if query in answers:
                    os.write(pty.master, query + b"\r\n" + answers[query] + b"\r\n")
    finally:
        loop.remove_reader(pty.master)


async def test_query_writes_and_reads_the_answer(pty: Pty) -> None:
    port = port_for(pty.path, silence_timeout=None)
    co2 = SerialQuery(port=port, query="READ CO2", rtype=ResourceType.INTEGER, pattern=r"^CO2=(\d+)ppm$")
    pressure = SerialQuery(port=port, query="READ P", rtype=ResourceType.FLOAT, field=1)
    silent = SerialQuery(port=port, query="READ X", rtype=ResourceType.FLOAT, timeout=0.1)
    sensor = asyncio.get_running_loop().create_task(
        answer_queries(pty, {b"READ CO2": b"CO2=415ppm", b"READ P": b"P 1013.2 hPa"}))
    for binding in (co2, pressure, silent):
        await binding.start()
    try:
        results = await asyncio.gather(co2.read(), pressure.read(), co2.read())
        assert results == [415, 1013.2, 415]
        with pytest.raises(ServiceUnavailable) as excinfo:
            await silent.read()
        assert excinfo.value.message == f"no answer from {pty.path} to 'READ X' within 0.1 s"
    finally:
        sensor.cancel()
        for binding in (co2, pressure, silent):
            await binding.close()


# ---- configuration errors ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"device": ""}, "device"),
        ({"device": "/dev/ttyS0", "baudrate": "fast"}, "baudrate"),
        ({"device": "/dev/ttyS0", "parity": "X"}, "parity"),
        ({"device": "/dev/ttyS0", "bytesize": 9}, "bytesize"),
        ({"device": "/dev/ttyS0", "stopbits": 3}, "stopbits"),
        ({"device": "/dev/ttyS0", "encoding": "klingon"}, "encoding"),
        ({"device": "/dev/ttyS0", "silence_timeout": 0}, "silence_timeout"),
        ({"device": "/dev/ttyS0", "reconnect_delay": -1}, "reconnect_delay"),
    ],
)
def test_bad_port_arguments_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(HardwareConfigError) as excinfo:
        SerialPortReader(**kwargs)  # type: ignore[arg-type]
    assert excinfo.value.field == field


def test_bad_binding_arguments_name_the_field() -> None:
    port = SerialPortReader(device="/dev/ttyS0")
    with pytest.raises(HardwareConfigError) as excinfo:
        SerialLineValue(port=port, rtype=ResourceType.FLOAT, pattern="T=([")
    assert excinfo.value.field == "pattern"
    with pytest.raises(HardwareConfigError) as excinfo:
        NmeaField(port=port, field="heading")
    assert excinfo.value.field == "field" and "latitude" in excinfo.value.fix
    with pytest.raises(HardwareConfigError) as excinfo:
        SerialQuery(port=port, query="", rtype=ResourceType.FLOAT)
    assert excinfo.value.field == "query"


# ---- parsers, property-based -------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_random_text_never_crashes_the_nmea_parser(line: str) -> None:
    tracker = NmeaTracker()
    try:
        tracker.feed(line, 1_700_000_000.0)
        tracker.feed(line, 1_700_000_000.0, require_checksum=False)
    except NmeaError:
        pass


nmea_fields = st.lists(st.text(alphabet="0123456789.,-NSEWAVM", max_size=12), min_size=0, max_size=16)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["GPGGA", "GNRMC", "GPGST", "GPGSV"]), nmea_fields)
def test_well_framed_sentences_with_random_fields_never_crash(address: str, fields: list[str]) -> None:
    tracker = NmeaTracker()
    try:
        tracker.feed(build_sentence(address, fields), 1_700_000_000.0)
    except NmeaError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-90, max_value=90), st.floats(min_value=-180, max_value=180),
       st.floats(min_value=-400, max_value=9000).map(lambda a: round(a, 1)))
def test_generated_sentences_round_trip_position(lat: float, lon: float, alt: float) -> None:
    tracker = NmeaTracker()
    assert tracker.feed(gga(lat, lon, alt=alt), 1_700_000_000.0)
    assert tracker.has_fix
    assert tracker.latitude == pytest.approx(lat, abs=1e-7)
    assert tracker.longitude == pytest.approx(lon, abs=1e-7)
    assert tracker.altitude == alt
    tracker = NmeaTracker()
    tracker.feed(rmc(lat, lon), 1_700_000_000.0)
    assert tracker.latitude == pytest.approx(lat, abs=1e-7)
    assert tracker.longitude == pytest.approx(lon, abs=1e-7)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
def test_one_flipped_character_is_caught_by_the_checksum(noise: str) -> None:
    sentence = gga(12.5, 45.25).strip()
    for position in range(1, sentence.index("*")):
        for replacement in noise[:2]:
            if replacement == sentence[position]:
                continue
            broken = sentence[:position] + replacement + sentence[position + 1:]
            with pytest.raises(NmeaError):
                parse_sentence(broken)


def test_gga_without_a_date_takes_todays_utc_date() -> None:
    tracker = NmeaTracker()
    now = datetime.datetime(2030, 1, 2, 0, 0, 5, tzinfo=datetime.UTC).timestamp()
    tracker.feed(gga(1, 2, time_of_day="235959.00"), now)  # a fix from just before midnight
    assert tracker.timestamp == int(datetime.datetime(2030, 1, 1, 23, 59, 59, tzinfo=datetime.UTC).timestamp())


def test_velocity_encoding() -> None:
    # Bearing 270 degrees needs the ninth bit; 36 km/h is 10 m/s.
    assert encode_horizontal_velocity(270, 10.0) == bytes([0x01, 0x0E, 0x00, 0x24])
    assert encode_horizontal_velocity(0, 0.0) == bytes(4)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.sampled_from([None, r"^T=(\S+)", r"(?P<value>\d+)", r"x"]),
       st.sampled_from([None, 0, 1, -1, 5]), st.sampled_from([None, ",", ";"]),
       st.sampled_from(list(ResourceType)))
def test_random_lines_never_crash_the_line_parser(line: str, pattern: str | None, field: int | None,
                                                  separator: str | None, rtype: ResourceType) -> None:
    selector = LineSelector(pattern=pattern, field=field, separator=separator)
    try:
        text = selector.extract(line)
    except ValueError:
        return
    if text is not None:
        try:
            parse_reading(text, rtype, "test")
        except ServiceUnavailable:
            pass


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False), st.integers(-10**12, 10**12))
def test_readings_round_trip_numbers(number: float, integer: int) -> None:
    assert parse_reading(f"  {number!r}\r", ResourceType.FLOAT, "t") == number
    assert parse_reading(str(integer), ResourceType.INTEGER, "t") == integer
