"""The agent's driver for an AT-command Sigfox modem (Wisol WSSFM10R and its breakouts) on a serial port.

The modem takes one command at a time, ends every reply with CR, and may need a minute for an uplink that
waits for a downlink, so :class:`SigfoxModem` serialises commands with a lock and bounds each exchange by
``command_timeout``. The serial port itself (pyserial, reconnecting, line splitting) is the shared
:class:`agent.hardware.serial_port.SerialPortReader`; this module adds only the AT dialogue:

- ``AT$I=10`` / ``AT$I=11``: device id (8 hex) and PAC (16 hex);
- ``AT$SF=<hex>[,1]``: ``OK``, then for a downlink request ``RX=01 23 45 67 89 AB CD EF`` or
  ``ERR_SFX_ERR_SEND_FRAME_WAIT_TIMEOUT`` (no downlink waiting: not an error). Some modules send only the
  timeout line, without the ``OK`` first; both are accepted;
- before each send, what the radio zone needs: ``ATS302=15`` (maximum output power) in RCZ1 and RCZ3;
  ``AT$GI?`` and, when it answers ``X,Y`` with X = 0 or Y < 3, ``AT$RC`` (channel reset) in RCZ2 and RCZ4;
- ``AT$T?`` (tenths of a degree Celsius) and ``AT$V?`` (millivolts: the current voltage, then on a second
  line the voltage during the last transmission, which the driver keeps when the module sends it).

Anything else the modem says, or silence, raises :class:`SigfoxError` carrying the command and the reply. It
is a ``ServiceUnavailable``, so a resource that sends through the modem answers 5.03 with that text. A reply
that arrives after its command timed out can be taken for the next command's reply; a garbled exchange
therefore raises, and the next command usually raises too, rather than passing on wrong data.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..core.errors import ServiceUnavailable
from ..hardware.errors import HardwareConfigError
from ..hardware.serial_port import SerialPortReader

log = logging.getLogger(__name__)

MAX_UPLINK_BYTES = 12
DOWNLINK_BYTES = 8
NO_DOWNLINK = "ERR_SFX_ERR_SEND_FRAME_WAIT_TIMEOUT"
REGIONS = ("RCZ1", "RCZ2", "RCZ3", "RCZ4", "RCZ5", "RCZ6", "RCZ7")
_MAX_POWER_REGIONS = ("RCZ1", "RCZ3")
_CHANNEL_RESET_REGIONS = ("RCZ2", "RCZ4")
_DEVICE_ID = re.compile(r"[0-9A-Fa-f]{1,8}")
_PAC = re.compile(r"[0-9A-Fa-f]{16}")
_CHANNELS = re.compile(r"(\d+),(\d+)")
_INTEGER = re.compile(r"-?\d+")
_DOWNLINK = re.compile(r"RX=((?:[0-9A-Fa-f]{2} ?){8})")
# How long AT$V? may take to print its second line (the voltage during the last transmission).
_SECOND_LINE_WAIT = 0.2

T = TypeVar("T")


class SigfoxError(ServiceUnavailable):
    """The modem refused a command, said something unexpected, or said nothing in time."""

    def __init__(self, message: str, *, command: str = "", reply: str | None = None) -> None:
        super().__init__(message)
        self.command = command
        self.reply = reply


class _Replies:
    """The lines the modem says while one command is in flight."""

    def __init__(self) -> None:
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        self.seen: list[str] = []

    def __call__(self, line: str) -> None:
        self._lines.put_nowait(line.strip())

    async def next(self) -> str:
        line = await self._lines.get()
        self.seen.append(line)
        return line

    async def maybe_next(self, wait: float) -> str | None:
        try:
            async with asyncio.timeout(wait):
                return await self.next()
        except TimeoutError:
            return None


class SigfoxModem:
    """A Wisol-style Sigfox modem behind ``device``; ``open()`` before use, ``close()`` after.

    Opening is shared and counted like the serial port underneath: every ``open()`` needs its
    ``close()``. A port that is missing when opened is retried in the background; commands meanwhile
    raise SigfoxError with the reason.
    """

    def __init__(
        self,
        *,
        device: str,
        baudrate: int = 9600,
        region: str = "RCZ3",
        command_timeout: float = 60.0,
        reconnect_delay: float = 1.0,
    ) -> None:
        normalized = region.upper() if isinstance(region, str) else region
        if normalized not in REGIONS:
            raise HardwareConfigError("region", f"{region!r} is not a Sigfox radio configuration zone",
                                      f"give one of {', '.join(REGIONS)} (Japan is RCZ3)")
        if (isinstance(command_timeout, bool) or not isinstance(command_timeout, (int, float))
                or command_timeout <= 0):
            raise HardwareConfigError(
                "command_timeout", f"{command_timeout!r} is not a positive number of seconds",
                "give e.g. command_timeout = 60 (an uplink with a downlink takes up to ~50 s)")
        self.device = device
        self.region = normalized
        self.command_timeout = float(command_timeout)
        self.transmit_voltage: float | None = None
        """Volts during the last transmission, when the module reported it with ``AT$V?``."""
        self._port = SerialPortReader(device=device, baudrate=baudrate, silence_timeout=None,
                                      reconnect_delay=reconnect_delay)
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SigfoxModem({self.device!r}, {self.region})"

    async def open(self) -> None:
        await self._port.start()

    async def close(self) -> None:
        await self._port.close()

    @property
    def is_open(self) -> bool:
        return self._port.is_open

    # ---- commands -----------------------------------------------------------------------------
    async def ping(self) -> None:
        """``AT``: raise SigfoxError unless the modem answers OK."""
        async with self._lock:
            await self._command("AT", _expect_ok)

    async def device_id(self) -> str:
        """``AT$I=10``: the Sigfox device id (up to 8 hex digits)."""
        async with self._lock:
            return await self._command("AT$I=10", _expect_match(_DEVICE_ID, "up to 8 hex digits"))

    async def pac(self) -> str:
        """``AT$I=11``: the PAC (16 hex digits) that registers the device."""
        async with self._lock:
            return await self._command("AT$I=11", _expect_match(_PAC, "a PAC of 16 hex digits"))

    async def temperature(self) -> float:
        """``AT$T?``: the module's temperature in degrees Celsius."""
        async with self._lock:
            tenths = await self._command("AT$T?", _expect_match(_INTEGER, "tenths of a degree"))
        return int(tenths) / 10

    async def voltage(self) -> float:
        """``AT$V?``: the module's supply voltage in volts (and ``transmit_voltage`` when reported)."""
        async with self._lock:
            now, during_send = await self._command("AT$V?", self._read_voltages)
        if during_send is not None:
            self.transmit_voltage = during_send
        return now

    async def _read_voltages(self, replies: _Replies, command: str) -> tuple[float, float | None]:
        first = await _expect_match(_INTEGER, "millivolts")(replies, command)
        second = await replies.maybe_next(_SECOND_LINE_WAIT)
        during_send = int(second) / 1000 if second is not None and _INTEGER.fullmatch(second) else None
        return int(first) / 1000, during_send

    async def send(self, payload: bytes, *, downlink: bool = False) -> bytes | None:
        """Send 1..12 bytes; with ``downlink``, return the 8 bytes the network had queued, or None.

        The radio zone's preparation (``ATS302=15``, or ``AT$GI?``/``AT$RC``) goes first, under the
        same turn of the lock, so nothing else reaches the modem in between.
        """
        if not isinstance(payload, (bytes, bytearray)):
            raise TypeError(f"a Sigfox payload is bytes, not {type(payload).__name__}")
        if not 1 <= len(payload) <= MAX_UPLINK_BYTES:
            raise ValueError(f"a Sigfox uplink carries 1 to {MAX_UPLINK_BYTES} bytes, not {len(payload)}")
        command = f"AT$SF={bytes(payload).hex().upper()}" + (",1" if downlink else "")
        async with self._lock:
            await self._prepare_send()
            log.debug("Sigfox uplink %s", command)
            return await self._command(command, _send_reply(downlink))

    async def _prepare_send(self) -> None:
        if self.region in _MAX_POWER_REGIONS:
            await self._command("ATS302=15", _expect_ok)
        elif self.region in _CHANNEL_RESET_REGIONS:
            x, y = await self._command("AT$GI?", _read_channels)
            if x == 0 or y < 3:
                await self._command("AT$RC", _expect_ok)

    # ---- one exchange -------------------------------------------------------------------------
    async def _command(self, command: str, answer: Callable[[_Replies, str], Awaitable[T]]) -> T:
        """Write ``command`` and let ``answer`` read the reply lines; the caller holds the lock."""
        replies = _Replies()
        unsubscribe = self._port.subscribe(replies)
        try:
            try:
                await self._port.write(f"{command}\r".encode("ascii"), timeout=self.command_timeout)
            except ServiceUnavailable as exc:
                raise SigfoxError(f"cannot send {command!r} to the Sigfox modem: {exc.message}",
                                  command=command) from None
            try:
                async with asyncio.timeout(self.command_timeout):
                    return await answer(replies, command)
            except TimeoutError:
                said = f" after {', '.join(replies.seen)!r}" if replies.seen else ""
                reason = self._port.unavailable_reason(include_silence=False)
                raise SigfoxError(
                    f"no answer from the Sigfox modem on {self.device} to {command!r}{said} within "
                    f"{self.command_timeout:g} s" + (f" ({reason})" if reason else ""),
                    command=command, reply=replies.seen[-1] if replies.seen else None,
                ) from None
        finally:
            unsubscribe()


def _unexpected(command: str, line: str, expected: str) -> SigfoxError:
    if line.startswith("ERR"):
        return SigfoxError(f"the Sigfox modem refused {command!r}: {line}", command=command, reply=line)
    return SigfoxError(f"the Sigfox modem answered {line!r} to {command!r} (expected {expected})",
                       command=command, reply=line)


async def _expect_ok(replies: _Replies, command: str) -> None:
    line = await replies.next()
    if line != "OK":
        raise _unexpected(command, line, "OK")


def _expect_match(pattern: re.Pattern[str], expected: str) -> Callable[[_Replies, str], Awaitable[str]]:
    async def answer(replies: _Replies, command: str) -> str:
        line = await replies.next()
        if not pattern.fullmatch(line):
            raise _unexpected(command, line, expected)
        return line

    return answer


async def _read_channels(replies: _Replies, command: str) -> tuple[int, int]:
    line = await replies.next()
    match = _CHANNELS.fullmatch(line)
    if match is None:
        raise _unexpected(command, line, "X,Y")
    return int(match[1]), int(match[2])


def _send_reply(downlink: bool) -> Callable[[_Replies, str], Awaitable[bytes | None]]:
    async def answer(replies: _Replies, command: str) -> bytes | None:
        line = await replies.next()
        if downlink and line == NO_DOWNLINK:
            return None
        if line != "OK":
            raise _unexpected(command, line, "OK")
        if not downlink:
            return None
        line = await replies.next()
        if line == NO_DOWNLINK:
            return None
        return parse_downlink(line, command)

    return answer


def parse_downlink(line: str, command: str = "AT$SF") -> bytes:
    """The 8 bytes of ``RX=01 23 45 67 89 AB CD EF``; anything else raises SigfoxError."""
    match = _DOWNLINK.fullmatch(line.strip())
    if match is None:
        raise _unexpected(command, line, "RX= and 8 hex bytes")
    return bytes.fromhex(match[1].replace(" ", ""))
