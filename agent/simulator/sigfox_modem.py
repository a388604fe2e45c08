"""A simulated Wisol-style Sigfox modem answering AT commands on a real pseudo-terminal.

In simulator mode the agent's :class:`agent.telemetry.sigfox_modem.SigfoxModem` talks to this modem exactly
as it would to a WSSFM10R on a UART: the modem opens a pty (raw mode), publishes the slave's path as
:attr:`SimulatedSigfoxModem.port`, and answers on the master side, every reply ending with CR:

=========================  ================================================================================
``AT``                     ``OK``
``AT$I=10`` / ``AT$I=11``  the device id / the PAC
``AT$SF=<hex>[,0|1]``      after ``send_delay``: ``OK``; asking for a downlink (``,1``): ``OK`` then
                           ``RX=01 23 45 67 89 AB CD EF``, or ``ERR_SFX_ERR_SEND_FRAME_WAIT_TIMEOUT`` alone
                           when none waits. Bad hex: ``ERROR``; more than 12 bytes:
                           ``ERR_SFX_ERR_SEND_FRAME_DATA_LENGTH`` (the Sigfox library's error for it; what a
                           module prints there is unconfirmed)
``ATS302=<0..15>``         ``OK`` (output power)
``AT$GI?``                 ``X,Y``: starts at ``0,0``, ``AT$RC`` makes it ``1,6``, each uplink takes one of Y
``AT$RC``                  ``OK``
``AT$T?``                  temperature in tenths of a degree Celsius
``AT$V?``                  two lines: the voltage now and during the last transmission, in mV
anything else              ``ERROR``
=========================  ================================================================================

Every uplink goes to ``on_uplink(device_id, data, want_downlink)``, which the cloud emulator wires to
``CloudStore.sigfox_uplink``; its answer is the downlink. An uplink the callback fails on is lost, as on
the air: the modem still says ``OK`` (and the downlink wait times out). Setting :attr:`responsive` to False
makes the modem read commands and answer nothing, like a hung module.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tty
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

UplinkHandler = Callable[[str, bytes, bool], Awaitable[bytes | None]]

MAX_UPLINK_BYTES = 12
DOWNLINK_BYTES = 8
NO_DOWNLINK = "ERR_SFX_ERR_SEND_FRAME_WAIT_TIMEOUT"
DATA_TOO_LONG = "ERR_SFX_ERR_SEND_FRAME_DATA_LENGTH"
_LINE_END = re.compile(rb"\r\n|\r|\n")
_SEND = re.compile(r"AT\$SF=([^,]*)(?:,([01]))?")
_POWER = re.compile(r"ATS302=(\d{1,2})")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_CHANNELS_AFTER_RESET = (1, 6)
_MAX_COMMAND = 256  # bytes without a line end: noise, dropped
_WRITE_PATIENCE = 2.0  # seconds a reply may wait for a reader that does not drain the pty


class SimulatedSigfoxModem:
    """The modem; ``await start()`` opens the pty, ``await close()`` removes it."""

    def __init__(
        self,
        *,
        device_id: str,
        pac: str,
        on_uplink: UplinkHandler,
        send_delay: float = 0.0,
        temperature: float = 25.0,
        voltage_mv: int = 3300,
    ) -> None:
        if not re.fullmatch(r"[0-9A-Fa-f]{1,8}", device_id):
            raise ValueError(f"a Sigfox device id is up to 8 hex digits, not {device_id!r}")
        if not re.fullmatch(r"[0-9A-Fa-f]{16}", pac):
            raise ValueError(f"a Sigfox PAC is 16 hex digits, not {pac!r}")
        if send_delay < 0:
            raise ValueError(f"send_delay {send_delay!r} is negative")
        self.device_id = device_id
        self.pac = pac
        self.send_delay = send_delay
        self.temperature = temperature
        self.voltage_mv = voltage_mv
        self.responsive = True
        self.commands: list[str] = []
        """Every command received, in order (what the tests and the simulator's log look at)."""
        self.channels = (0, 0)
        self.output_power: int | None = None
        self._on_uplink = on_uplink
        self._master: int | None = None
        self._slave: int | None = None
        self._port: str | None = None
        self._buffer = bytearray()
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> str:
        """The path the agent opens, e.g. ``/dev/pts/7``."""
        if self._port is None:
            raise RuntimeError("the simulated Sigfox modem is not started")
        return self._port

    @property
    def path(self) -> str:
        """The same as :attr:`port`: what ``SimulatedHardware`` hands a profile's ``sim:sigfox``."""
        return self.port

    async def start(self) -> None:
        if self._master is not None:
            return
        master, slave = os.openpty()
        # Raw mode: CR must reach the modem as CR (no ICRNL) and replies must leave as written (no OPOST).
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._port = os.ttyname(slave)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(master, self._on_readable)
        self._worker = asyncio.create_task(self._serve(), name=f"sigfox-modem-{self.device_id}")
        log.info("simulated Sigfox modem %s on %s", self.device_id, self._port)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        if self._master is not None and self._loop is not None:
            self._loop.remove_reader(self._master)
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    # ---- reading commands ---------------------------------------------------------------------
    def _on_readable(self) -> None:
        if self._master is None:
            return
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # EIO while no one holds the slave open; our own slave fd normally prevents it
        self._buffer += data
        parts = _LINE_END.split(bytes(self._buffer))
        self._buffer[:] = parts.pop()
        if len(self._buffer) > _MAX_COMMAND:
            self._buffer.clear()
        for raw in parts:
            if raw.strip():
                self._queue.put_nowait(raw.decode("ascii", errors="replace").strip())

    async def _serve(self) -> None:
        while True:
            command = await self._queue.get()
            self.commands.append(command)
            if not self.responsive:
                continue
            try:
                replies = await self._answer(command)
            except Exception:
                log.exception("simulated Sigfox modem failed on %r", command)
                replies = ["ERROR"]
            for reply in replies:
                await self._write(reply + "\r")

    async def _write(self, text: str) -> None:
        data = memoryview(text.encode("ascii"))
        waited = 0.0
        while data and self._master is not None:
            try:
                data = data[os.write(self._master, data):]
            except BlockingIOError:
                if waited > _WRITE_PATIENCE:
                    log.warning("simulated Sigfox modem: nobody reads %s; reply dropped", self._port)
                    return
                await asyncio.sleep(0.01)
                waited += 0.01

    # ---- answering ----------------------------------------------------------------------------
    async def _answer(self, command: str) -> list[str]:
        if command == "AT":
            return ["OK"]
        if command == "AT$I=10":
            return [self.device_id]
        if command == "AT$I=11":
            return [self.pac]
        if command == "AT$T?":
            return [str(round(self.temperature * 10))]
        if command == "AT$V?":
            return [str(self.voltage_mv), str(self.voltage_mv)]
        if command == "AT$GI?":
            return [f"{self.channels[0]},{self.channels[1]}"]
        if command == "AT$RC":
            self.channels = _CHANNELS_AFTER_RESET
            return ["OK"]
        power = _POWER.fullmatch(command)
        if power is not None and int(power[1]) <= 15:
            self.output_power = int(power[1])
            return ["OK"]
        send = _SEND.fullmatch(command)
        if send is not None:
            return await self._send(send[1], send[2] == "1")
        return ["ERROR"]

    async def _send(self, payload: str, want_downlink: bool) -> list[str]:
        if not _HEX.fullmatch(payload):
            return ["ERROR"]
        data = bytes.fromhex(payload)
        if len(data) > MAX_UPLINK_BYTES:
            return [DATA_TOO_LONG]
        if self.send_delay:
            await asyncio.sleep(self.send_delay)
        self.channels = (self.channels[0], max(0, self.channels[1] - 1))
        try:
            downlink = await self._on_uplink(self.device_id, data, want_downlink)
        except Exception:
            log.exception("simulated Sigfox network lost the uplink %s of %s", payload, self.device_id)
            downlink = None
        if not want_downlink:
            return ["OK"]
        if downlink is None:
            return [NO_DOWNLINK]
        if len(downlink) != DOWNLINK_BYTES:
            log.error("simulated Sigfox network: a downlink is %d bytes, not %d; dropped", len(downlink),
                      DOWNLINK_BYTES)
            return [NO_DOWNLINK]
        return ["OK", "RX=" + " ".join(f"{byte:02X}" for byte in downlink)]
