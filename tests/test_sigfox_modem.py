"""The agent's Sigfox modem driver over real pseudo-terminals: against the simulated Wisol modem (with
the cloud emulator's store behind it) and against a pty the test scripts byte by byte (garbled and silent
modems)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import tty
from collections.abc import AsyncIterator, Callable

import pytest

from agent.hardware.errors import HardwareConfigError
from agent.hardware.serial_port import SerialPortReader
from agent.simulator.cloud.store import CloudStore
from agent.simulator.sigfox_modem import SimulatedSigfoxModem, UplinkHandler
from agent.telemetry.sigfox import (
    SigfoxError,
    SigfoxModem,
    pack_frame,
    parse_field_spec,
    parse_parser_format,
    parser_format,
    unpack_frame,
)

DEVICE_ID = "1A2B3C4D"
PAC = "0123456789ABCDEF"
DOWNLINK = bytes.fromhex("0011223344556677")


def uplinks_into(store: CloudStore) -> UplinkHandler:
    """The wiring the emulator uses: every uplink of the simulated modem goes to the store."""

    async def on_uplink(device_id: str, data: bytes, want_downlink: bool) -> bytes | None:
        return store.sigfox_uplink(device_id, data, want_downlink)

    return on_uplink


@pytest.fixture
def store() -> CloudStore:
    cloud = CloudStore()
    cloud.provision_sigfox_device(DEVICE_ID, PAC)
    return cloud


@pytest.fixture
async def simulated(store: CloudStore) -> AsyncIterator[SimulatedSigfoxModem]:
    modem = SimulatedSigfoxModem(device_id=DEVICE_ID, pac=PAC, on_uplink=uplinks_into(store),
                                 temperature=21.5, voltage_mv=3280)
    await modem.start()
    yield modem
    await modem.close()


async def open_modem(port: str, **options: object) -> SigfoxModem:
    settings: dict[str, object] = {"command_timeout": 2.0, "reconnect_delay": 0.05}
    settings.update(options)
    modem = SigfoxModem(device=port, **settings)  # type: ignore[arg-type]
    await modem.open()
    return modem


def entries(store: CloudStore) -> list[dict[str, object]]:
    page, _ = store.data_entries("SigfoxDevice", DEVICE_ID, ascending=True, limit=1000)
    return [json.loads(entry.content) for entry in page]


# ---- driver <-> simulated modem ------------------------------------------------------------------------


async def test_every_query_command(simulated: SimulatedSigfoxModem) -> None:
    modem = await open_modem(simulated.port)
    try:
        await modem.ping()
        assert await modem.device_id() == DEVICE_ID
        assert await modem.pac() == PAC
        assert await modem.temperature() == 21.5
        assert await modem.voltage() == 3.28
        assert modem.transmit_voltage == 3.28
    finally:
        await modem.close()
    assert simulated.commands == ["AT", "AT$I=10", "AT$I=11", "AT$T?", "AT$V?"]


async def test_uplink_reaches_the_store_and_rcz3_sets_power_before_each_send(
    simulated: SimulatedSigfoxModem, store: CloudStore
) -> None:
    modem = await open_modem(simulated.port)
    try:
        assert await modem.send(b"\x01\x02\xab") is None
        assert await modem.send(bytes(range(12))) is None
    finally:
        await modem.close()
    assert simulated.commands == ["ATS302=15", "AT$SF=0102AB", "ATS302=15", "AT$SF=000102030405060708090A0B"]
    assert [(e["data"], e["ack"]) for e in entries(store)] == [
        ("0102ab", False), ("000102030405060708090a0b", False)]
    assert store.get_sigfox_device(DEVICE_ID).status == "active"


async def test_rcz4_resets_channels_only_when_needed(simulated: SimulatedSigfoxModem) -> None:
    modem = await open_modem(simulated.port, region="rcz4")
    try:
        for _ in range(5):
            await modem.send(b"\xff")
    finally:
        await modem.close()
    # The simulated modem starts at 0,0; AT$RC gives 1,6 and each uplink takes one micro channel.
    assert simulated.commands == [
        "AT$GI?", "AT$RC", "AT$SF=FF",   # 0,0: reset
        "AT$GI?", "AT$SF=FF",            # 1,5
        "AT$GI?", "AT$SF=FF",            # 1,4
        "AT$GI?", "AT$SF=FF",            # 1,3
        "AT$GI?", "AT$RC", "AT$SF=FF",   # 1,2: fewer than 3, reset
    ]


async def test_downlink_end_to_end_through_the_cloud_store(
    simulated: SimulatedSigfoxModem, store: CloudStore
) -> None:
    fields = [parse_field_spec("/3303/0/5700", "temp:int:16:/100"),
              parse_field_spec("/3304/0/5700", "hum:uint:8")]
    modem = await open_modem(simulated.port)
    try:
        store.queue_sigfox_downlink(DEVICE_ID, DOWNLINK)
        # An uplink that does not ask leaves the downlink waiting ...
        assert await modem.send(pack_frame(fields, {"temp": 23.45, "hum": 61})) is None
        # ... the next one that asks gets it ...
        assert await modem.send(pack_frame(fields, {"temp": 23.5, "hum": 60}), downlink=True) == DOWNLINK
        # ... and once taken, a request finds nothing waiting: no downlink, no error.
        assert await modem.send(pack_frame(fields, {"temp": -1, "hum": 0}), downlink=True) is None
    finally:
        await modem.close()
    assert simulated.commands[-1] == "AT$SF=FF9C00,1"
    stored = entries(store)
    assert [e["ack"] for e in stored] == [False, True, True]
    assert [e["seqNumber"] for e in stored] == [1, 2, 3]
    # What Soracom's binary parser, set up with the console format, would add to each entry:
    console = parse_parser_format(parser_format(fields))
    assert [unpack_frame(console, bytes.fromhex(str(e["data"]))) for e in stored] == [
        {"temp": 23.45, "hum": 61}, {"temp": 23.5, "hum": 60}, {"temp": -1, "hum": 0}]


async def test_payload_is_checked_before_anything_reaches_the_modem(simulated: SimulatedSigfoxModem) -> None:
    modem = await open_modem(simulated.port)
    try:
        with pytest.raises(ValueError, match="1 to 12 bytes, not 13"):
            await modem.send(bytes(13))
        with pytest.raises(ValueError, match="not 0"):
            await modem.send(b"")
        with pytest.raises(TypeError):
            await modem.send("0102")  # type: ignore[arg-type]
    finally:
        await modem.close()
    assert simulated.commands == []


async def test_commands_take_turns(simulated: SimulatedSigfoxModem) -> None:
    simulated.send_delay = 0.05
    modem = await open_modem(simulated.port)
    try:
        results = await asyncio.gather(
            modem.send(b"\x01"), modem.device_id(), modem.send(b"\x02"), modem.pac())
    finally:
        await modem.close()
    assert results == [None, DEVICE_ID, None, PAC]
    sends = [i for i, command in enumerate(simulated.commands) if command.startswith("AT$SF")]
    assert all(simulated.commands[i - 1] == "ATS302=15" for i in sends)


async def test_simulated_modem_answers_bad_commands_as_a_module_would(
    simulated: SimulatedSigfoxModem,
) -> None:
    port = SerialPortReader(device=simulated.port, silence_timeout=None)
    await port.start()
    try:
        async def ask(command: str) -> str:
            return await port.request(f"{command}\r".encode(), accept=lambda line: True, timeout=2.0)

        assert await ask("AT$SF=XYZ") == "ERROR"
        assert await ask("AT$SF=123") == "ERROR"
        assert await ask("AT$SF=") == "ERROR"
        assert await ask("AT$SF=" + "00" * 13) == "ERR_SFX_ERR_SEND_FRAME_DATA_LENGTH"
        assert await ask("AT$SF=0102,0") == "OK"
        assert await ask("ATS302=16") == "ERROR"
        assert await ask("AT$I=12") == "ERROR"
        assert await ask("at") == "ERROR"
        assert await ask("AT+CGMI") == "ERROR"
        assert await ask("AT") == "OK"
    finally:
        await port.close()


async def test_simulated_modem_downlink_wire_format(
    simulated: SimulatedSigfoxModem, store: CloudStore
) -> None:
    port = SerialPortReader(device=simulated.port, silence_timeout=None)
    await port.start()
    lines: list[str] = []
    unsubscribe = port.subscribe(lines.append)
    try:
        store.queue_sigfox_downlink(DEVICE_ID, DOWNLINK)
        await port.write(b"AT$SF=AA,1\r")
        await port.write(b"AT$SF=BB,1\r")
        await _until(lambda: len(lines) >= 3)
    finally:
        unsubscribe()
        await port.close()
    assert lines == ["OK", "RX=00 11 22 33 44 55 66 77", "ERR_SFX_ERR_SEND_FRAME_WAIT_TIMEOUT"]


def test_simulated_modem_identity_is_checked() -> None:
    async def nothing(device_id: str, data: bytes, want: bool) -> None:
        return None

    with pytest.raises(ValueError, match="device id"):
        SimulatedSigfoxModem(device_id="XYZ", pac=PAC, on_uplink=nothing)
    with pytest.raises(ValueError, match="PAC"):
        SimulatedSigfoxModem(device_id=DEVICE_ID, pac="0123", on_uplink=nothing)


# ---- a modem the test scripts ------------------------------------------------------------------------


class ScriptedModem:
    """The test plays the modem on a pty's master side: ``answers`` maps a command to the bytes sent back."""

    def __init__(self, answers: dict[str, bytes]) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.answers = answers
        self.commands: list[str] = []
        self._buffer = b""
        asyncio.get_running_loop().add_reader(self.master, self._readable)

    def _readable(self) -> None:
        try:
            self._buffer += os.read(self.master, 1024)
        except OSError:
            return
        *commands, self._buffer = self._buffer.split(b"\r")
        for raw in commands:
            command = raw.decode()
            self.commands.append(command)
            if command in self.answers:
                os.write(self.master, self.answers[command])

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.master)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[[dict[str, bytes]], ScriptedModem]]:
    made: list[ScriptedModem] = []

    def make(answers: dict[str, bytes]) -> ScriptedModem:
        made.append(ScriptedModem(answers))
        return made[-1]

    yield make
    for modem in made:
        modem.close()


@pytest.mark.parametrize(("answers", "call", "message"), [
    ({"AT$I=10": b"ZZ-not-hex\r"}, "device_id", r"answered 'ZZ-not-hex' to 'AT\$I=10'"),
    ({"AT$I=11": b"0123\r"}, "pac", "expected a PAC of 16 hex digits"),
    ({"AT": b"O\xffK\r"}, "ping", "answered 'O\ufffdK' to 'AT'"),
    ({"AT$T?": b"warm\r"}, "temperature", "expected tenths of a degree"),
    ({"ATS302=15": b"ERROR\r"}, "send", r"refused 'ATS302=15': ERROR"),
    ({"ATS302=15": b"OK\r", "AT$SF=01": b"ERR_SFX_ERR_SEND_FRAME_STATE\r"}, "send",
     r"refused 'AT\$SF=01': ERR_SFX_ERR_SEND_FRAME_STATE"),
    ({"ATS302=15": b"OK\r", "AT$SF=01,1": b"OK\rRX=01 02 03\r"}, "send_downlink",
     "expected RX= and 8 hex bytes"),
    ({"ATS302=15": b"OK\r", "AT$SF=01,1": b"OOPS\r"}, "send_downlink", "answered 'OOPS'"),
])
async def test_garbled_replies_raise_with_what_the_modem_said(
    scripted: Callable[[dict[str, bytes]], ScriptedModem], answers: dict[str, bytes], call: str, message: str
) -> None:
    device = scripted(answers)
    modem = await open_modem(device.path)
    try:
        with pytest.raises(SigfoxError, match=message) as caught:
            await _call(modem, call)
    finally:
        await modem.close()
    assert caught.value.code == (5, 3)
    assert caught.value.reply is not None


async def _call(modem: SigfoxModem, call: str) -> object:
    if call == "send":
        return await modem.send(b"\x01")
    if call == "send_downlink":
        return await modem.send(b"\x01", downlink=True)
    method = getattr(modem, call)
    return await method()


async def test_silent_modem_times_out_without_hanging(
    scripted: Callable[[dict[str, bytes]], ScriptedModem]
) -> None:
    device = scripted({})
    modem = await open_modem(device.path, command_timeout=0.2)
    started = time.monotonic()
    try:
        silence = r"no answer from the Sigfox modem on .* to 'AT\$I=10' within 0\.2 s"
        with pytest.raises(SigfoxError, match=silence):
            await modem.device_id()
    finally:
        await modem.close()
    assert time.monotonic() - started < 1.5
    assert device.commands == ["AT$I=10"]


async def test_downlink_wait_that_never_ends_times_out_after_ok(
    scripted: Callable[[dict[str, bytes]], ScriptedModem]
) -> None:
    device = scripted({"ATS302=15": b"OK\r", "AT$SF=0A,1": b"OK\r"})
    modem = await open_modem(device.path, command_timeout=0.2)
    try:
        with pytest.raises(SigfoxError, match=r"'AT\$SF=0A,1' after 'OK' within 0.2 s"):
            await modem.send(b"\x0a", downlink=True)
    finally:
        await modem.close()


async def test_crlf_endings_and_timeout_after_ok_mean_no_downlink(
    scripted: Callable[[dict[str, bytes]], ScriptedModem]
) -> None:
    device = scripted({"ATS302=15": b"OK\r\n", "AT$SF=0A,1": b"OK\r\nERR_SFX_ERR_SEND_FRAME_WAIT_TIMEOUT\r\n",
                       "AT$SF=0B,1": b"OK\r\nRX=FE DC BA 98 76 54 32 10\r"})
    modem = await open_modem(device.path)
    try:
        assert await modem.send(b"\x0a", downlink=True) is None
        assert await modem.send(b"\x0b", downlink=True) == bytes.fromhex("FEDCBA9876543210")
    finally:
        await modem.close()


async def test_voltage_with_a_single_line(scripted: Callable[[dict[str, bytes]], ScriptedModem]) -> None:
    device = scripted({"AT$V?": b"3310\r", "AT": b"OK\r"})
    modem = await open_modem(device.path)
    try:
        assert await modem.voltage() == 3.31
        assert modem.transmit_voltage is None
        await modem.ping()
    finally:
        await modem.close()


async def test_missing_port_fails_commands_with_the_reason() -> None:
    modem = SigfoxModem(device="/dev/does-not-exist-sigfox", command_timeout=0.5)
    await modem.open()
    try:
        with pytest.raises(SigfoxError, match=re.escape("cannot send 'AT' to the Sigfox modem: cannot open")):
            await modem.ping()
    finally:
        await modem.close()


@pytest.mark.parametrize(("options", "field"), [
    ({"region": "EU"}, "region"),
    ({"command_timeout": 0}, "command_timeout"),
    ({"command_timeout": True}, "command_timeout"),
])
def test_bad_modem_settings(options: dict[str, object], field: str) -> None:
    with pytest.raises(HardwareConfigError) as caught:
        SigfoxModem(device="/dev/ttyUSB0", **options)  # type: ignore[arg-type]
    assert caught.value.field == field


async def _until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
