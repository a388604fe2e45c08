"""Simulated sources: resource values that move by themselves, for simulator mode and tests.

Each source is a binding that steps its value on a period and calls ``changed()`` when the value
moves, exactly like real hardware that reports by itself; observations fire without polling.
Between ticks a read returns the current value at no cost.

Sources are stepped by the shared :class:`~agent.hardware.ticker.Ticker` (one loop timer per
distinct period, not one task per source) and use ``__slots__``: the simulator benchmark observes a
thousand of them in one agent, where a task or a Mersenne Twister state per source would cost
megabytes and a wake-up each. A :class:`RandomWalk` gets its own generator only when it is
seeded (for reproducible runs); unseeded walks share one.

Every LwM2M type has a source: numbers (:class:`RandomWalk`, :class:`SineWave`, :class:`Counter`),
Boolean (:class:`Toggle`), and any type by cycling through given values (:class:`Cycle`: strings,
opaque bytes, object links, times).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Sequence

from ..core.errors import CodecError
from ..core.model import ResourceType, Value
from ..core.values import coerce
from ..tree.binding import ResourceBinding, ResourceContent
from .errors import HardwareConfigError
from .ticker import Ticker, shared_ticker

_NUMBER_TYPES = (ResourceType.FLOAT, ResourceType.INTEGER, ResourceType.UNSIGNED_INTEGER, ResourceType.TIME)
_shared_random = random.Random()


def _check_number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise HardwareConfigError(field, f"{value!r} is not a number", f"give {field} as a number")
    return value


def _check_numeric_type(rtype: ResourceType) -> ResourceType:
    if rtype not in _NUMBER_TYPES:
        raise HardwareConfigError("rtype", f"this source makes numbers, not {rtype.value}",
                                  "bind it to a Float, Integer, Unsigned Integer or Time resource, "
                                  "or use a cycle source")
    return rtype


def _as_type(value: float, rtype: ResourceType) -> Value:
    return value if rtype is ResourceType.FLOAT else round(value)


class SimulatedSource(ResourceBinding):
    """Base of the simulated sources: a value stepped every ``interval`` seconds once started."""

    __slots__ = ("_ticker", "_unsubscribe", "interval", "value")

    def __init__(self, value: Value, *, interval: float, ticker: Ticker | None) -> None:
        super().__init__()
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval > 0:
            raise HardwareConfigError("interval", f"{interval!r} is not a positive number of seconds",
                                      "give e.g. interval = 1.0")
        self.value = value
        self.interval = float(interval)
        self._ticker = ticker
        self._unsubscribe: Callable[[], None] | None = None

    async def read(self) -> ResourceContent:
        return self.value

    async def start(self) -> None:
        if self._unsubscribe is None:
            ticker = self._ticker or shared_ticker()
            self._unsubscribe = ticker.subscribe(self.interval, self._tick)

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _tick(self) -> None:
        value = self.step()
        if value != self.value:
            self.value = value
            self.changed()

    def step(self) -> Value:
        """The next value (called once per tick)."""
        raise NotImplementedError


class RandomWalk(SimulatedSource):
    """A number that moves by at most ``step`` per tick, reflected back inside [minimum, maximum]."""

    __slots__ = ("_random", "_x", "maximum", "minimum", "rtype", "step_size")

    def __init__(self, *, rtype: ResourceType = ResourceType.FLOAT, minimum: float = 0.0,
                 maximum: float = 100.0, step: float = 1.0, start: float | None = None,
                 seed: int | None = None, interval: float = 1.0, ticker: Ticker | None = None) -> None:
        self.rtype = _check_numeric_type(rtype)
        self.minimum = _check_number(minimum, "minimum")
        self.maximum = _check_number(maximum, "maximum")
        if self.minimum > self.maximum:
            raise HardwareConfigError("minimum", f"minimum {minimum} is above maximum {maximum}",
                                      "swap them or fix one")
        self.step_size = abs(_check_number(step, "step"))
        first = (self.minimum + self.maximum) / 2 if start is None else _check_number(start, "start")
        if not self.minimum <= first <= self.maximum:
            raise HardwareConfigError("start", f"start {start} is outside [{minimum}, {maximum}]",
                                      "give a start within the range, or leave it out for the middle")
        self._random = random.Random(seed) if seed is not None else _shared_random
        self._x = float(first)
        super().__init__(_as_type(self._x, self.rtype), interval=interval, ticker=ticker)

    def step(self) -> Value:
        x = self._x + self._random.uniform(-self.step_size, self.step_size)
        if x > self.maximum:
            x = 2 * self.maximum - x
        if x < self.minimum:
            x = 2 * self.minimum - x
        self._x = min(max(x, self.minimum), self.maximum)
        return _as_type(self._x, self.rtype)


class SineWave(SimulatedSource):
    """``offset + amplitude * sin(2π t / period)``, sampled every ``interval`` seconds."""

    __slots__ = ("_t0", "amplitude", "offset", "period", "rtype")

    def __init__(self, *, rtype: ResourceType = ResourceType.FLOAT, period: float = 60.0,
                 amplitude: float = 1.0, offset: float = 0.0, interval: float = 1.0,
                 ticker: Ticker | None = None) -> None:
        self.rtype = _check_numeric_type(rtype)
        self.period = _check_number(period, "period")
        if self.period <= 0:
            raise HardwareConfigError("period", f"{period!r} is not a positive number of seconds",
                                      "give the wave's period, e.g. period = 60.0")
        self.amplitude = _check_number(amplitude, "amplitude")
        self.offset = _check_number(offset, "offset")
        self._t0: float | None = None
        super().__init__(_as_type(self.offset, self.rtype), interval=interval, ticker=ticker)

    async def start(self) -> None:
        if self._t0 is None:
            self._t0 = asyncio.get_running_loop().time()
        await super().start()

    def step(self) -> Value:
        now = asyncio.get_running_loop().time()
        t = now - (self._t0 if self._t0 is not None else now)
        return _as_type(self.offset + self.amplitude * math.sin(2 * math.pi * t / self.period), self.rtype)


class Counter(SimulatedSource):
    """A number that grows by ``step`` per tick; with ``maximum`` it wraps back to ``start``."""

    __slots__ = ("maximum", "rtype", "start_value", "step_size")

    def __init__(self, *, rtype: ResourceType = ResourceType.INTEGER, start: float = 0, step: float = 1,
                 maximum: float | None = None, interval: float = 1.0, ticker: Ticker | None = None) -> None:
        self.rtype = _check_numeric_type(rtype)
        self.start_value = _check_number(start, "start")
        self.step_size = _check_number(step, "step")
        self.maximum = _check_number(maximum, "maximum") if maximum is not None else None
        if rtype is ResourceType.UNSIGNED_INTEGER and self.start_value < 0:
            raise HardwareConfigError("start", "an Unsigned Integer counter cannot start below 0",
                                      "give start >= 0")
        super().__init__(_as_type(self.start_value, self.rtype), interval=interval, ticker=ticker)

    def step(self) -> Value:
        assert isinstance(self.value, (int, float))
        following = self.value + self.step_size
        if self.maximum is not None and following > self.maximum:
            following = self.start_value
        if self.rtype is ResourceType.UNSIGNED_INTEGER and following < 0:
            following = self.start_value
        return _as_type(following, self.rtype)


class Toggle(SimulatedSource):
    """A Boolean that flips every tick (a blinking input)."""

    __slots__ = ()

    def __init__(self, *, initial: bool = False, interval: float = 1.0, ticker: Ticker | None = None) -> None:
        if not isinstance(initial, bool):
            raise HardwareConfigError("initial", f"{initial!r} is not a Boolean", "give true or false")
        super().__init__(initial, interval=interval, ticker=ticker)

    def step(self) -> Value:
        return not self.value


class Cycle(SimulatedSource):
    """Goes through ``choices`` in order, one per tick, and starts over: a source for any type."""

    __slots__ = ("_index", "choices")

    def __init__(self, *, choices: Sequence[Value], rtype: ResourceType = ResourceType.STRING,
                 interval: float = 1.0, ticker: Ticker | None = None) -> None:
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence) or not choices:
            raise HardwareConfigError("choices", f"{choices!r} is not a non-empty list",
                                      'give a list of values, e.g. choices = ["idle", "busy"]')
        try:
            self.choices = tuple(coerce(choice, rtype, f"choices[{i}]") for i, choice in enumerate(choices))
        except CodecError as exc:
            raise HardwareConfigError("choices", exc.message,
                                      f"every choice must be a {rtype.value}") from None
        self._index = 0
        super().__init__(self.choices[0], interval=interval, ticker=ticker)

    def step(self) -> Value:
        self._index = (self._index + 1) % len(self.choices)
        return self.choices[self._index]
