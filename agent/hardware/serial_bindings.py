"""Resources fed by a serial port: a line protocol, NMEA 0183 GPS, and request/response sensors.

All three sit on a shared :class:`~agent.hardware.serial_port.SerialPortReader` and start/close it
with themselves (it counts its users):

- :class:`SerialLineValue` keeps the last value found in the lines a sensor prints by itself
  (regular expression or field index, see ``readings.LineSelector``); it calls ``changed()`` when a
  new line brings a different value, so observations fire as the sensor speaks.
- :class:`NmeaField` is one Location (object 6) resource. The NMEA sentences of a port are parsed
  once, by the port's :class:`NmeaReceiver`, whatever the number of fields bound to it; corrupt
  sentences (bad checksum, nonsense fields) are counted and logged, never raised.
- :class:`SerialQuery` writes a query and waits for the answer line, for sensors that speak only
  when asked.

Reads answer 5.03 with the port's reason when it is missing, gone or silent, and 5.03 "no reading
yet" before the first value; the port reconnects by itself and values resume.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable

from ..core.errors import ServiceUnavailable
from ..core.model import ResourceType, Value
from ..tree.binding import ResourceBinding, ResourceContent
from .bad_input import BadInputCounter
from .errors import HardwareConfigError
from .nmea import NmeaError, NmeaTracker
from .polling import PolledBinding
from .process import check_timeout
from .readings import LineSelector, convert_value, parse_reading
from .serial_port import SerialPortReader
from .sharing import Listeners
from .ticker import Ticker

log = logging.getLogger(__name__)


class _PortListener(ResourceBinding):
    """A binding fed by what ``port`` sends: it listens while started and holds the port open meanwhile."""

    port: SerialPortReader

    def __init__(self) -> None:
        super().__init__()
        self._unsubscribe: Callable[[], None] | None = None

    def _listen(self) -> Callable[[], None]:
        """Subscribe to the port (or a parser of it); returns the function that stops listening."""
        raise NotImplementedError

    async def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self._listen()
            await self.port.start()

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
            await self.port.close()

    def _check_port(self) -> None:
        reason = self.port.unavailable_reason()
        if reason is not None:
            raise ServiceUnavailable(reason)


class SerialLineValue(_PortListener):
    """The last value a line-printing sensor sent on ``port``.

    Lines ``pattern`` does not match are not this resource's and are ignored; matching lines whose
    value does not parse as ``rtype`` are counted in ``bad_lines`` and logged. ``max_age`` (seconds)
    makes an old value unavailable even while the port keeps talking about other things.
    """

    def __init__(self, *, port: SerialPortReader, rtype: ResourceType, pattern: str | None = None,
                 field: int | None = None, separator: str | None = None,
                 max_age: float | None = None) -> None:
        super().__init__()
        if rtype is ResourceType.NONE:
            raise HardwareConfigError("rtype", "an executable resource cannot be read from a serial line",
                                      "bind it to a readable resource")
        self.port = port
        self.rtype = rtype
        self.selector = LineSelector(pattern=pattern, field=field, separator=separator)
        self.max_age = check_timeout(max_age, "max_age") if max_age is not None else None
        self.bad_lines = BadInputCounter(log, port.device)
        self._value: Value | None = None
        self._when = 0.0

    def __repr__(self) -> str:
        return f"SerialLineValue({self.port.device!r})"

    def _listen(self) -> Callable[[], None]:
        return self.port.subscribe(self._on_line)

    def _on_line(self, line: str) -> None:
        try:
            text = self.selector.extract(line)
        except ValueError as exc:
            self.bad_lines.record(str(exc))
            return
        if text is None:
            return
        try:
            value = parse_reading(text, self.rtype, self.port.device)
        except ServiceUnavailable as exc:
            self.bad_lines.record(exc.message)
            return
        self._when = time.monotonic()
        if value != self._value:
            self._value = value
            self.changed()

    async def read(self) -> ResourceContent:
        self._check_port()
        if self._value is None:
            raise ServiceUnavailable(f"no reading from {self.port.device} yet")
        if self.max_age is not None:
            age = time.monotonic() - self._when
            if age > self.max_age:
                raise ServiceUnavailable(f"last reading from {self.port.device} is {age:.0f} s old")
        return self._value


class NmeaReceiver:
    """Parses the NMEA sentences of one port once, for every :class:`NmeaField` bound to it."""

    _by_port: weakref.WeakKeyDictionary[SerialPortReader, NmeaReceiver] = weakref.WeakKeyDictionary()

    def __init__(self, port: SerialPortReader, *, require_checksum: bool = True) -> None:
        self.port = port
        self.require_checksum = require_checksum
        self.tracker = NmeaTracker()
        self.bad_sentences = BadInputCounter(log, f"NMEA on {port.device}")
        self.sentences = 0
        self._listeners: Listeners[Callable[[], None]] = Listeners()
        self._unsubscribe: Callable[[], None] | None = None

    @classmethod
    def for_port(cls, port: SerialPortReader) -> NmeaReceiver:
        receiver = cls._by_port.get(port)
        if receiver is None:
            receiver = cls(port)
            cls._by_port[port] = receiver
        return receiver

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        remove = self._listeners.add(listener)
        if self._unsubscribe is None:
            self._unsubscribe = self.port.subscribe(self._on_line)

        def unsubscribe() -> None:
            remove()
            if not self._listeners and self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None

        return unsubscribe

    def _on_line(self, line: str) -> None:
        try:
            used = self.tracker.feed(line, time.time(), require_checksum=self.require_checksum)
        except NmeaError as exc:
            self.bad_sentences.record(str(exc))
            return
        if used:
            self.sentences += 1
            for listener in self._listeners:
                listener()


# Location (object 6) resources a receiver can fill, with their natural types.
NMEA_FIELDS: dict[str, ResourceType] = {
    "latitude": ResourceType.FLOAT,
    "longitude": ResourceType.FLOAT,
    "altitude": ResourceType.FLOAT,
    "radius": ResourceType.FLOAT,
    "velocity": ResourceType.OPAQUE,
    "timestamp": ResourceType.TIME,
    "speed": ResourceType.FLOAT,
}


class NmeaField(_PortListener):
    """One Location value (``field``: a key of :data:`NMEA_FIELDS`) from the GPS on ``port``."""

    def __init__(self, *, port: SerialPortReader, field: str, rtype: ResourceType | None = None) -> None:
        super().__init__()
        if field not in NMEA_FIELDS:
            raise HardwareConfigError("field", f"no NMEA field {field!r}",
                                      "use one of: " + ", ".join(NMEA_FIELDS))
        self.port = port
        self.field = field
        self.rtype = rtype if rtype is not None else NMEA_FIELDS[field]
        self.receiver = NmeaReceiver.for_port(port)
        self._last: Value | None = None

    def __repr__(self) -> str:
        return f"NmeaField({self.port.device!r}, {self.field!r})"

    def _listen(self) -> Callable[[], None]:
        return self.receiver.subscribe(self._on_sentence)

    def _current(self) -> Value | None:
        tracker = self.receiver.tracker
        if not tracker.has_fix:
            return None
        value: Value | None = {
            "latitude": tracker.latitude,
            "longitude": tracker.longitude,
            "altitude": tracker.altitude,
            "radius": tracker.radius,
            "velocity": tracker.velocity,
            "timestamp": tracker.timestamp,
            "speed": tracker.speed_mps,
        }[self.field]
        return value

    def _on_sentence(self) -> None:
        value = self._current()
        if value is not None and value != self._last:
            self._last = value
            self.changed()

    async def read(self) -> ResourceContent:
        self._check_port()
        tracker = self.receiver.tracker
        if not tracker.has_fix:
            raise ServiceUnavailable(f"the GPS on {self.port.device} has no position fix")
        value = self._current()
        if value is None:
            raise ServiceUnavailable(f"the GPS on {self.port.device} reports no {self.field}")
        return convert_value(value, self.rtype, f"GPS {self.field}")


class SerialQuery(PolledBinding):
    """A value asked for: write ``query`` + ``terminator``, read the first line that holds a value.

    Lines that ``pattern`` does not match or that hold no value of ``rtype`` (an echo of the query,
    an "OK") are skipped until ``timeout``.
    ``poll_interval`` asks periodically and notifies observers when the answer changes.
    """

    def __init__(self, *, port: SerialPortReader, query: str, rtype: ResourceType,
                 pattern: str | None = None, field: int | None = None, separator: str | None = None,
                 terminator: str = "\r\n", timeout: float = 2.0, poll_interval: float | None = None,
                 ticker: Ticker | None = None) -> None:
        super().__init__()
        if not isinstance(query, str) or not query:
            raise HardwareConfigError("query", f"{query!r} is not a query string",
                                      'give e.g. query = "READ?"')
        if rtype is ResourceType.NONE:
            raise HardwareConfigError("rtype", "an executable resource cannot be queried",
                                      "bind it to a readable resource")
        self.port = port
        self.rtype = rtype
        try:
            self.query = (query + terminator).encode(port.encoding)
        except UnicodeEncodeError:
            raise HardwareConfigError("query", f"{query!r} cannot be sent as {port.encoding}",
                                      "use characters the port's encoding has") from None
        self.selector = LineSelector(pattern=pattern, field=field, separator=separator)
        self.timeout = check_timeout(timeout)
        self.poll_changes(poll_interval, ticker)
        self._started = False

    def __repr__(self) -> str:
        return f"SerialQuery({self.port.device!r}, {self.query!r})"

    async def start(self) -> None:
        if not self._started:
            self._started = True
            await self.port.start()
            await super().start()

    async def close(self) -> None:
        if self._started:
            self._started = False
            await super().close()
            await self.port.close()

    def _accept(self, line: str) -> bool:
        """A line is the answer when it holds a value of the resource's type (an echo does not)."""
        try:
            text = self.selector.extract(line)
            if text is None:
                return False
            parse_reading(text, self.rtype, self.port.device)
        except (ValueError, ServiceUnavailable):
            return False
        return True

    async def read(self) -> ResourceContent:
        line = await self.port.request(self.query, accept=self._accept, timeout=self.timeout)
        text = self.selector.extract(line)
        assert text is not None
        return parse_reading(text, self.rtype, self.port.device)
