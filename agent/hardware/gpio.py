"""GPIO lines as resources: inputs (3200 Digital Input, 3347 Push button) and outputs (3201, 3311, 3342).

An input line is requested once, by a shared :class:`GpioInputLine`, and described by several
resources: its state (5500), its counter of activations (5501), its polarity (5502, writable),
the time of its last change (5518), and the counter reset (5505, executable). Edges reach the
agent through the request's file descriptor and ``loop.add_reader`` (see ``gpio_chip``), so
``changed()`` fires the moment the kernel reports an edge; nothing is polled. An output line is
one :class:`GpioOutput` binding: a write drives the line, a read returns what it drives.

Polarity is applied here, not in the chip request: with ``active_low`` a low level reads as
True (a button wired to ground with a pull-up). If the chip or the line cannot be had (no such
chip, line busy, no permission, ``gpiod`` not installed), reads and writes answer 5.03 with the
reason, and the request is tried again on the next access after ``retry_interval`` seconds.

Trying it on a Raspberry Pi
---------------------------
1. ``pip install 'gpiod>=2.0'`` into the agent's environment (the libgpiod v2 Python bindings; they
   bring their own libgpiod, no system package needed).
2. The 40-pin header's lines are on chip ``gpiochip0`` on a Pi 1-4; on a Pi 5 it is ``gpiochip4``
   with older kernels and ``gpiochip0`` with newer ones: ``gpioinfo`` (Debian package gpiod) lists
   the chips and their line names. Line offsets are the BCM numbers: header pin 11 is GPIO17 = line 17,
   pin 13 is GPIO27 = line 27. A line name such as ``"GPIO17"`` works in place of an offset.
3. Permissions: the agent's user must be allowed to open /dev/gpiochip*: on Raspberry Pi OS put it in
   group ``gpio`` (``sudo usermod -aG gpio lwm2m``, then log in again); elsewhere add a udev rule
   ``SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"``.
4. A push button between GPIO17 (pin 11) and ground (pin 9): request the input with
   ``bias=Bias.PULL_UP`` and ``active_low=True``; an LED with a resistor on GPIO27 (pin 13): an
   output. In a profile, chip = "gpiochip0" selects :class:`~agent.hardware.gpio_libgpiod.LibgpiodChip`;
   in simulator mode the same profile runs on :class:`~agent.hardware.gpio_fake.FakeGpioChip`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ..core.errors import BadRequest, ServiceUnavailable
from ..tree.binding import ResourceBinding, ResourceContent
from .errors import HardwareConfigError
from .gpio_chip import Bias, GpioChip, GpioInputRequest, GpioLine, GpioOutputRequest
from .sharing import Listeners, Users

log = logging.getLogger(__name__)

_RETRY_INTERVAL = 5.0


def _check_line(line: object) -> GpioLine:
    if isinstance(line, bool) or not isinstance(line, (int, str)) or (isinstance(line, int) and line < 0) \
            or line == "":
        raise HardwareConfigError("line", f"{line!r} is not a GPIO line",
                                  'give the line offset (e.g. line = 17 for GPIO17) or its name ("GPIO17")')
    return line


def _check_bias(bias: str | Bias) -> Bias:
    if isinstance(bias, Bias):
        return bias
    try:
        return Bias(bias)
    except ValueError:
        raise HardwareConfigError("bias", f"{bias!r} is not a bias",
                                  "use " + ", ".join(repr(b.value) for b in Bias)) from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _request_failed(chip: GpioChip, line: GpioLine, exc: Exception) -> str:
    """The reason a line request failed, logged once here; reads report it until a retry succeeds."""
    reason = f"cannot request line {line} of {chip.name}: {_describe(exc)}"
    log.error("%s", reason)
    return reason


def _release(request: GpioInputRequest | GpioOutputRequest, owner: object) -> None:
    # Releasing happens while closing: a failure is worth a log line, not a failed shutdown.
    try:
        request.release()
    except Exception:
        log.exception("releasing %r failed", owner)


def _not_requested(error: str | None, chip: GpioChip, line: GpioLine) -> ServiceUnavailable:
    return ServiceUnavailable(error or f"line {line} of {chip.name} is not requested")


class GpioInputLine:
    """One input line, requested once and shared by the resources that describe it.

    ``state`` is the logical level (after ``active_low``), ``counter`` counts changes to active,
    ``last_change`` is the unix time of the last edge. Started and closed by its bindings
    (reference-counted).
    """

    def __init__(self, *, chip: GpioChip, line: int | str, active_low: bool = False,
                 bias: str | Bias = Bias.AS_IS, debounce_ms: int = 0, consumer: str = "lwm2m-agent",
                 retry_interval: float = _RETRY_INTERVAL) -> None:
        self.chip = chip
        self.line = _check_line(line)
        self.active_low = bool(active_low)
        self.bias = _check_bias(bias)
        if isinstance(debounce_ms, bool) or not isinstance(debounce_ms, int) or debounce_ms < 0:
            raise HardwareConfigError("debounce_ms", f"{debounce_ms!r} is not a number of milliseconds",
                                      "give e.g. debounce_ms = 10, or 0 for none")
        self.debounce_ms = debounce_ms
        self.consumer = consumer
        self.retry_interval = retry_interval
        self.state = False
        self.counter = 0
        self.last_change: int | None = None
        self._request: GpioInputRequest | None = None
        self._fd: int | None = None
        self._error: str | None = "not started"
        self._last_attempt = 0.0
        self._users = Users()
        self._listeners: Listeners[Callable[[], None]] = Listeners()
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"GpioInputLine({self.chip.name!r}, {self.line!r})"

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        return self._listeners.add(listener)

    async def start(self) -> None:
        if self._users.acquire():
            self._loop = asyncio.get_running_loop()
            self._request_line()

    async def close(self) -> None:
        if self._users.release():
            self._release()
            self._error = "closed"

    def _request_line(self) -> None:
        self._last_attempt = time.monotonic()
        try:
            request = self.chip.request_input(self.line, bias=self.bias, debounce_ms=self.debounce_ms,
                                              consumer=self.consumer)
        except Exception as exc:
            self._error = _request_failed(self.chip, self.line, exc)
            return
        self._request = request
        self._fd = request.fileno()
        self.state = request.get_value() != self.active_low
        self._error = None
        assert self._loop is not None
        self._loop.add_reader(self._fd, self._on_events)

    def _release(self) -> None:
        if self._fd is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)
        self._fd = None
        if self._request is not None:
            _release(self._request, self)
            self._request = None

    def available(self) -> None:
        """Raise ServiceUnavailable unless the line is requested (retrying a failed request first)."""
        if self._request is None and self._users and \
                time.monotonic() - self._last_attempt >= self.retry_interval:
            self._request_line()
        if self._request is None:
            raise _not_requested(self._error, self.chip, self.line)

    def _on_events(self) -> None:
        if self._request is None:
            return
        try:
            events = self._request.read_events()
        except Exception as exc:
            self._error = f"line {self.line} of {self.chip.name} failed: {_describe(exc)}"
            log.error("%s", self._error)
            self._release()
            return
        for event in events:
            self._apply(event.rising != self.active_low)
        # Events can be dropped when the kernel's buffer overflows; the level is the truth.
        try:
            level = self._request.get_value() != self.active_low
        except Exception:
            return
        if level != self.state:
            self._apply(level)

    def _apply(self, state: bool) -> None:
        if state == self.state:
            return
        self.state = state
        if state:
            self.counter += 1
        self.last_change = int(time.time())
        for listener in self._listeners:
            listener()

    def set_active_low(self, active_low: bool) -> None:
        """Change the polarity: the state reads inverted from now on (counter unchanged)."""
        if bool(active_low) != self.active_low:
            self.active_low = bool(active_low)
            self.state = not self.state
            for listener in self._listeners:
                listener()

    def reset_counter(self) -> None:
        if self.counter != 0:
            self.counter = 0
            for listener in self._listeners:
                listener()


GPIO_INPUT_FIELDS = ("state", "counter", "timestamp", "polarity")


class GpioInput(ResourceBinding):
    """One resource of an input line: ``field`` is state (5500), counter (5501), timestamp (5518)
    or polarity (5502, writable: True means active-low)."""

    def __init__(self, *, gpio: GpioInputLine, field: str = "state") -> None:
        super().__init__()
        if field not in GPIO_INPUT_FIELDS:
            raise HardwareConfigError("field", f"no GPIO input field {field!r}",
                                      "use one of: " + ", ".join(GPIO_INPUT_FIELDS))
        self.gpio = gpio
        self.field = field
        self._last: object = self._value()
        self._unsubscribe: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return f"GpioInput({self.gpio!r}, {self.field!r})"

    def _value(self) -> bool | int | None:
        if self.field == "state":
            return self.gpio.state
        if self.field == "counter":
            return self.gpio.counter
        if self.field == "timestamp":
            return self.gpio.last_change
        return self.gpio.active_low

    async def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self.gpio.subscribe(self._on_change)
            await self.gpio.start()
            self._last = self._value()

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
            await self.gpio.close()

    def _on_change(self) -> None:
        value = self._value()
        if value != self._last:
            self._last = value
            self.changed()

    async def read(self) -> ResourceContent:
        if self.field != "polarity":
            self.gpio.available()
        value = self._value()
        if value is None:
            raise ServiceUnavailable(f"line {self.gpio.line} of {self.gpio.chip.name} has not changed yet")
        return value

    async def write(self, value: ResourceContent) -> None:
        if self.field != "polarity":
            await super().write(value)
            return
        if not isinstance(value, bool):
            raise BadRequest(f"polarity is a Boolean, not {value!r}")
        self.gpio.set_active_low(value)


class GpioCounterReset(ResourceBinding):
    """5505 Digital Input Counter Reset of an input line."""

    def __init__(self, *, gpio: GpioInputLine) -> None:
        super().__init__()
        self.gpio = gpio

    async def execute(self, arguments: str) -> None:
        self.gpio.reset_counter()


class GpioOutput(ResourceBinding):
    """An output line driven by writes (3201/5550, 3311/5850, ...); a read returns what it drives."""

    def __init__(self, *, chip: GpioChip, line: int | str, active_low: bool = False, initial: bool = False,
                 consumer: str = "lwm2m-agent", retry_interval: float = _RETRY_INTERVAL) -> None:
        super().__init__()
        self.chip = chip
        self.line = _check_line(line)
        self.active_low = bool(active_low)
        self.initial = bool(initial)
        self.consumer = consumer
        self.retry_interval = retry_interval
        self._request: GpioOutputRequest | None = None
        self._error: str | None = "not started"
        self._last_attempt = 0.0
        self._started = False
        self._value = self.initial

    def __repr__(self) -> str:
        return f"GpioOutput({self.chip.name!r}, {self.line!r})"

    async def start(self) -> None:
        if not self._started:
            self._started = True
            self._request_line()

    async def close(self) -> None:
        self._started = False
        if self._request is not None:
            _release(self._request, self)
            self._request = None
        self._error = "closed"

    def _request_line(self) -> None:
        self._last_attempt = time.monotonic()
        try:
            self._request = self.chip.request_output(self.line, initial=self._value != self.active_low,
                                                     consumer=self.consumer)
            self._error = None
        except Exception as exc:
            self._error = _request_failed(self.chip, self.line, exc)

    def _available(self) -> GpioOutputRequest:
        if self._request is None and self._started and \
                time.monotonic() - self._last_attempt >= self.retry_interval:
            self._request_line()
        if self._request is None:
            raise _not_requested(self._error, self.chip, self.line)
        return self._request

    async def read(self) -> ResourceContent:
        return self._available().get_value() != self.active_low

    async def write(self, value: ResourceContent) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
            value = bool(value)
        if not isinstance(value, bool):
            raise BadRequest(f"a GPIO output takes a Boolean, not {value!r}")
        request = self._available()
        try:
            request.set_value(value != self.active_low)
        except Exception as exc:
            raise ServiceUnavailable(f"cannot drive line {self.line} of {self.chip.name}: {_describe(exc)}") \
                from None
        if value != self._value:
            self._value = value
            self.changed()
