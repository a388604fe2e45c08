"""One serial port, read line by line on the event loop and shared by every resource it feeds.

A GPS on /dev/ttyUSB0 feeds latitude, longitude, altitude and timestamp; a sensor board may print
several measurements on one port. :class:`SerialPortReader` owns the port (one per device path),
splits what arrives into lines and hands each line to its subscribers; the resource bindings in
``serial_bindings`` subscribe and keep their own last value. It is reference-counted: the first
binding that starts it opens the port, the last one that closes it closes the port.

Why pyserial plus ``loop.add_reader`` (and not pyserial-asyncio(-fast) or a reader thread):
pyserial opens and configures the tty (baud rate, framing, raw mode, an exclusive lock) portably;
after that a tty is a file descriptor, and the event loop's own readiness callback is the
cheapest way to wait on it: no thread per port, no extra dependency, no transport/protocol layer
to adapt to line framing, and closing or reconnecting is a plain ``remove_reader``. The price,
POSIX only, is no price for an agent that targets Linux.

When the port cannot be opened, disappears (a USB adapter unplugged; a pty whose master closed),
or stays silent longer than ``silence_timeout``, :meth:`SerialPortReader.unavailable_reason` says
why in words fit for a 5.03 answer ("cannot open /dev/ttyUSB0: ...", "no data from /dev/ttyUSB0
for 30 s"), and the reader reopens the path by itself with exponential backoff. Reopening the
*path* is what makes udev's stable links (/dev/serial/by-id/...) work across re-plugging.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import select
import time
from collections.abc import Callable

import serial

from ..core.errors import ServiceUnavailable
from .errors import HardwareConfigError
from .sharing import Listeners, Users

log = logging.getLogger(__name__)

LineListener = Callable[[str], None]
_LINE_END = re.compile(rb"\r\n|\r|\n")
_PARITIES = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD,
             "M": serial.PARITY_MARK, "S": serial.PARITY_SPACE}


class SerialPortReader:
    """Reads lines from one serial device, reconnecting by itself; shared by the bindings it feeds.

    Lines end with CR, LF or CR LF (GPS receivers send CR LF, some modems CR alone); empty lines
    are dropped, bytes are decoded with ``encoding`` (undecodable bytes become U+FFFD, which the
    parsers then reject). A line longer than ``max_line_length`` is garbage and is dropped.
    """

    def __init__(
        self,
        *,
        device: str,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        encoding: str = "ascii",
        silence_timeout: float | None = 30.0,
        reconnect_delay: float = 1.0,
        reconnect_max_delay: float = 30.0,
        max_line_length: int = 4096,
        exclusive: bool = True,
    ) -> None:
        if not isinstance(device, str) or not device:
            raise HardwareConfigError("device", f"{device!r} is not a device path",
                                      'give the port, e.g. device = "/dev/serial/by-id/usb-u-blox_GNSS-if00"')
        if isinstance(baudrate, bool) or not isinstance(baudrate, int) or baudrate <= 0:
            raise HardwareConfigError("baudrate", f"{baudrate!r} is not a baud rate",
                                      "give e.g. baudrate = 9600")
        if bytesize not in (5, 6, 7, 8):
            raise HardwareConfigError("bytesize", f"{bytesize!r} is not 5, 6, 7 or 8",
                                      "give e.g. bytesize = 8")
        if parity not in _PARITIES:
            raise HardwareConfigError("parity", f"{parity!r} is not a parity",
                                      'give "N", "E", "O", "M" or "S"')
        if stopbits not in (1, 1.5, 2):
            raise HardwareConfigError("stopbits", f"{stopbits!r} is not 1, 1.5 or 2",
                                      "give e.g. stopbits = 1")
        try:
            "".encode(encoding)
        except LookupError:
            raise HardwareConfigError("encoding", f"no text encoding {encoding!r}",
                                      'give e.g. encoding = "ascii" or "utf-8"') from None
        for name, value in (("reconnect_delay", reconnect_delay),
                            ("reconnect_max_delay", reconnect_max_delay)):
            if not _positive(value):
                raise HardwareConfigError(name, f"{value!r} is not a positive number of seconds",
                                          f"give e.g. {name} = 1.0")
        if silence_timeout is not None and not _positive(silence_timeout):
            raise HardwareConfigError("silence_timeout",
                                      f"{silence_timeout!r} is not a positive number of seconds",
                                      "give e.g. silence_timeout = 30, or leave it out for a port that "
                                      "speaks only when asked")
        self.device = device
        self.baudrate = baudrate
        self.bytesize = bytesize
        self.parity = parity
        self.stopbits = stopbits
        self.encoding = encoding
        self.silence_timeout = silence_timeout
        self.reconnect_delay = float(reconnect_delay)
        self.reconnect_max_delay = float(max(reconnect_max_delay, reconnect_delay))
        self.max_line_length = max_line_length
        self.exclusive = exclusive

        self.lines_received = 0
        self.connects = 0
        self._users = Users()
        self._serial: serial.Serial | None = None
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._buffer = bytearray()
        self._listeners: Listeners[LineListener] = Listeners()
        self._error: str | None = "not started"
        self._last_data = 0.0
        self._backoff = self.reconnect_delay
        self._reconnect: asyncio.TimerHandle | None = None
        self._data_since_open = False
        self._request_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SerialPortReader({self.device!r})"

    # ---- life cycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the port on the first start (trying again later if it is not there yet)."""
        if self._users.acquire():
            self._loop = asyncio.get_running_loop()
            self._open()

    async def close(self) -> None:
        """Close the port when the last user closes."""
        if self._users.release():
            if self._reconnect is not None:
                self._reconnect.cancel()
                self._reconnect = None
            self._close_port()
            self._error = "closed"

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def subscribe(self, listener: LineListener) -> Callable[[], None]:
        """Call ``listener(line)`` for every line; returns the function that stops it."""
        return self._listeners.add(listener)

    def unavailable_reason(self, *, include_silence: bool = True) -> str | None:
        """Why reads from this port cannot be served now, or None when it is delivering data."""
        if self._fd is None:
            return self._error or f"{self.device} is not open"
        if include_silence and self.silence_timeout is not None:
            quiet = time.monotonic() - self._last_data
            if quiet > self.silence_timeout:
                return f"no data from {self.device} for {quiet:.0f} s"
        return None

    # ---- opening and losing the port ----------------------------------------------------------
    def _open(self) -> None:
        self._reconnect = None
        if not self._users or self._loop is None:
            return
        try:
            port = serial.Serial(
                port=self.device, baudrate=self.baudrate, bytesize=self.bytesize,
                parity=_PARITIES[self.parity], stopbits=self.stopbits, timeout=0,
                exclusive=self.exclusive,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            self._lost(f"cannot open {self.device}: {_describe(exc)}")
            return
        self._serial = port
        self._fd = port.fileno()
        self._buffer.clear()
        self._last_data = time.monotonic()
        self._data_since_open = False
        self._error = None
        self.connects += 1
        self._loop.add_reader(self._fd, self._on_readable)
        log.info("serial port %s open at %d baud", self.device, self.baudrate)

    def _close_port(self) -> None:
        if self._fd is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)
        self._fd = None
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                pass
            self._serial = None

    def _lost(self, reason: str) -> None:
        was_open = self._fd is not None
        self._close_port()
        if was_open or self._error != reason:
            log.warning("%s; retrying in %.1f s", reason, self._backoff)
        self._error = reason
        if self._users and self._loop is not None and self._reconnect is None:
            self._reconnect = self._loop.call_later(self._backoff, self._open)
            self._backoff = min(self._backoff * 2, self.reconnect_max_delay)

    def _hung_up(self) -> bool:
        """Whether the fd reports a hang-up (a zero-byte read alone can be a spurious wake-up)."""
        assert self._fd is not None
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        return any(event & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, event in poller.poll(0))

    # ---- reading ------------------------------------------------------------------------------
    def _on_readable(self) -> None:
        if self._fd is None:
            return
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(f"{self.device} failed: {exc.strerror or exc}")
            return
        if not data:
            if self._hung_up():
                self._lost(f"{self.device} was disconnected")
            return
        self._last_data = time.monotonic()
        if not self._data_since_open:
            # Only a port that delivers data resets the backoff; one that opens and drops at once
            # (a flapping USB link) keeps backing off.
            self._data_since_open = True
            self._backoff = self.reconnect_delay
        self._buffer += data
        parts = _LINE_END.split(bytes(self._buffer))
        self._buffer[:] = parts.pop()
        if len(self._buffer) > self.max_line_length:
            log.warning("dropping %d bytes without a line end from %s", len(self._buffer), self.device)
            self._buffer.clear()
        for raw in parts:
            if raw and len(raw) <= self.max_line_length:
                self._deliver(raw.decode(self.encoding, errors="replace"))

    def _deliver(self, line: str) -> None:
        self.lines_received += 1
        for listener in self._listeners:
            try:
                listener(line)
            except Exception:
                # A parser bug in one resource must not stop the port for the others.
                log.exception("serial line listener %r failed on %r", listener, line[:80])

    # ---- writing and asking -------------------------------------------------------------------
    async def write(self, data: bytes, *, timeout: float = 2.0) -> None:
        """Write all of ``data``; ServiceUnavailable when the port is gone or does not drain in time."""
        reason = self.unavailable_reason(include_silence=False)
        if reason is not None:
            raise ServiceUnavailable(reason)
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        while view:
            if self._fd is None:
                raise ServiceUnavailable(self._error or f"{self.device} closed")
            try:
                written = os.write(self._fd, view)
            except BlockingIOError:
                written = 0
            except OSError as exc:
                self._lost(f"{self.device} failed: {exc.strerror or exc}")
                raise ServiceUnavailable(self._error or "") from None
            view = view[written:]
            if view:
                if time.monotonic() > deadline:
                    raise ServiceUnavailable(f"{self.device} does not accept data (output buffer full)")
                await asyncio.sleep(0.01)

    async def request(self, query: bytes, *, accept: Callable[[str], bool], timeout: float) -> str:
        """Write ``query`` and return the first line ``accept`` takes, within ``timeout`` seconds.

        Requests on one port take turns, so two resources asking the same sensor do not get each
        other's answers.
        """
        async with self._request_lock:
            loop = asyncio.get_running_loop()
            answer: asyncio.Future[str] = loop.create_future()

            def listener(line: str) -> None:
                if not answer.done() and accept(line):
                    answer.set_result(line)

            unsubscribe = self.subscribe(listener)
            try:
                await self.write(query, timeout=timeout)
                async with asyncio.timeout(timeout):
                    return await answer
            except TimeoutError:
                reason = self.unavailable_reason(include_silence=False)
                raise ServiceUnavailable(
                    reason or f"no answer from {self.device} to {query.decode(errors='replace').strip()!r} "
                    f"within {timeout:g} s"
                ) from None
            finally:
                unsubscribe()


def _positive(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0


def _describe(exc: BaseException) -> str:
    """The useful part of an open error (pyserial repeats the path and wraps the errno text)."""
    errno_value = getattr(exc, "errno", None)
    if isinstance(errno_value, int) and errno_value in errno.errorcode:
        return os.strerror(errno_value)
    return str(exc)
