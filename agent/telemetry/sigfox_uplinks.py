"""Periodic Sigfox uplinks of chosen resources, within what a Sigfox contract allows per day.

A Sigfox device may send at most 140 uplinks and receive at most 4 downlinks a day, and the 1 % radio duty
cycle means about one uplink every 10 minutes. :class:`SigfoxBudget` is that arithmetic (pure; days are UTC
calendar days of the injected clock). :class:`SigfoxUplinks` reads the chosen resources through a callable
(the lead connects it to the object tree), packs them with :func:`pack_frame`, asks for a downlink every Nth
uplink while the day's downlinks last, and hands a downlink to ``on_downlink``. An uplink the budget forbids
raises :class:`SigfoxBudgetExceeded` and is counted as refused; a modem that fails is counted and logged, and
the schedule carries on at the next period.

Given a :class:`~agent.telemetry.queue.TelemetryQueue`, nothing is sent straight from the schedule: each
frame is queued (durably) and a :class:`~agent.telemetry.delivery.Deliverer` hands frames to the modem in
order while the budget and the modem allow, so frames wait, not vanish, when the day's uplinks are spent
or the modem is gone. The budget is then kept in the queue's database, written before each uplink goes on
air, so a restarted agent goes on with the day's count instead of a fresh one.

Every attempt handed to the modem spends budget, even one that failed: a timed-out send may well have gone
on air, and over-counting only costs an uplink, while under-counting breaks the contract.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from ..core.errors import LwM2MError
from ..core.model import Value
from ..core.path import Path
from ..hardware.errors import HardwareConfigError
from .sigfox_frame import SigfoxField, SigfoxFrameError, frame_length, pack_frame
from .sigfox_modem import SigfoxError, SigfoxModem

if TYPE_CHECKING:
    from .delivery import Deliverer
    from .queue import Reading, TelemetryQueue

log = logging.getLogger(__name__)

DAILY_UPLINKS = 140
DAILY_DOWNLINKS = 4
DUTY_CYCLE_INTERVAL = 600.0
_DAY = 86400.0
# time.time() and the event loop's monotonic clock may disagree by a few milliseconds; a scheduled
# uplink must not be refused for arriving that much "early".
_CLOCK_SLACK = 0.02

ReadResource = Callable[[Path], Awaitable[Value]]
DownlinkHandler = Callable[[bytes], Awaitable[None]]


class SigfoxBudgetExceeded(SigfoxError):
    """The day's uplinks are spent, or the previous uplink was too recent."""


class SigfoxBudget:
    """Uplinks and downlinks left in the current UTC day, and the minimum spacing between uplinks."""

    def __init__(self, *, daily_uplinks: int = DAILY_UPLINKS, daily_downlinks: int = DAILY_DOWNLINKS,
                 min_interval: float = 0.0) -> None:
        self.daily_uplinks = daily_uplinks
        self.daily_downlinks = daily_downlinks
        self.min_interval = min_interval
        self._day: int | None = None
        self._uplinks = 0
        self._downlinks = 0
        self._last: float | None = None

    def _roll(self, now: float) -> None:
        day = int(now // _DAY)
        if day != self._day:
            self._day, self._uplinks, self._downlinks = day, 0, 0

    def uplinks_today(self, now: float) -> int:
        self._roll(now)
        return self._uplinks

    def downlinks_today(self, now: float) -> int:
        self._roll(now)
        return self._downlinks

    def refusal(self, now: float) -> str | None:
        """Why an uplink may not go at ``now``, or None when it may."""
        self._roll(now)
        if self._uplinks >= self.daily_uplinks:
            return (f"the {self.daily_uplinks} Sigfox uplinks of today (UTC) are spent; "
                    f"the next one may go after midnight UTC")
        if self._last is not None:
            elapsed = now - self._last
            # A clock stepped backwards (elapsed < 0) must not block uplinks until it catches up.
            if elapsed >= 0 and elapsed + _CLOCK_SLACK < self.min_interval:
                return (f"the previous Sigfox uplink went {elapsed:.1f} s ago; uplinks are at least "
                        f"{self.min_interval:g} s apart")
        return None

    def may_ask_downlink(self, now: float) -> bool:
        self._roll(now)
        return self._downlinks < self.daily_downlinks

    def spend(self, now: float, *, downlink: bool) -> None:
        self._roll(now)
        self._uplinks += 1
        self._downlinks += int(downlink)
        self._last = now

    def wait(self, now: float) -> float:
        """Seconds from ``now`` until an uplink may go (0 when it may go now)."""
        self._roll(now)
        if self._uplinks >= self.daily_uplinks:
            return (math.floor(now / _DAY) + 1) * _DAY - now
        if self._last is not None and 0 <= now - self._last < self.min_interval:
            return self.min_interval - (now - self._last) + _CLOCK_SLACK
        return 0.0

    def snapshot(self) -> str:
        """The counts as text, for :meth:`restore` after a restart."""
        return json.dumps({"day": self._day, "uplinks": self._uplinks, "downlinks": self._downlinks,
                           "last": self._last})

    def restore(self, text: str) -> None:
        """Take back the counts of :meth:`snapshot`; a snapshot that does not parse counts as a full day
        (over-counting costs uplinks, under-counting breaks the contract)."""
        try:
            state = json.loads(text)
            day, uplinks, downlinks = int(state["day"]), int(state["uplinks"]), int(state["downlinks"])
            last = None if state.get("last") is None else float(state["last"])
        except (ValueError, KeyError, TypeError):
            log.error("the saved Sigfox budget %r does not parse; counting today as spent", text[:100])
            self._day, self._uplinks, self._downlinks, self._last = int(time.time() // _DAY), \
                self.daily_uplinks, self.daily_downlinks, None
            return
        self._day, self._uplinks, self._downlinks, self._last = day, uplinks, downlinks, last


class SigfoxUplinks:
    """Sends ``fields`` read through ``read`` every ``interval`` seconds, within the daily budget.

    ``min_interval`` is the floor for ``interval`` and for the spacing of any two uplinks, including
    ``send_now()``; keep the default (1 s) or more on a real modem, lower it in simulator mode.
    ``downlink_every = N`` asks for a downlink with every Nth uplink (0: never), at most 4 a day.
    ``start()`` opens the modem (shared, counted) and ``close()`` closes it. The first scheduled uplink
    goes one interval after ``start()`` unless ``send_at_start``: a crash-looping agent then cannot
    spend the day's budget in minutes.
    """

    def __init__(
        self,
        *,
        modem: SigfoxModem,
        read: ReadResource,
        fields: Sequence[SigfoxField],
        interval: float = DUTY_CYCLE_INTERVAL,
        daily_limit: int = DAILY_UPLINKS,
        downlink_every: int = 0,
        on_downlink: DownlinkHandler | None = None,
        clock: Callable[[], float] = time.time,
        min_interval: float = 1.0,
        daily_downlink_limit: int = DAILY_DOWNLINKS,
        send_at_start: bool = False,
        queue: TelemetryQueue | None = None,
        destination: str = "sigfox",
        retry_initial: float = 5.0,
    ) -> None:
        if not fields:
            raise HardwareConfigError("fields", "no resources to send", 'list at least one, e.g. '
                                      '{path = "/3303/0/5700", format = "temp:int:16:/100"}')
        frame_length(fields)  # raises HardwareConfigError for overlapping or oversized layouts
        if not _number_at_least(min_interval, 0):
            raise HardwareConfigError("min_interval", f"{min_interval!r} is not a number of seconds >= 0",
                                      "give e.g. min_interval = 1")
        if not _number_at_least(interval, min_interval) or interval <= 0:
            raise HardwareConfigError(
                "interval", f"{interval!r} is not a number of seconds >= {min_interval:g}",
                f"give e.g. interval = {DUTY_CYCLE_INTERVAL:g} "
                "(the 1 % duty cycle allows one uplink per ~10 min)")
        _check_count("daily_limit", daily_limit, 1, DAILY_UPLINKS,
                     "Sigfox contracts allow at most 140 uplinks a day")
        _check_count("daily_downlink_limit", daily_downlink_limit, 0, DAILY_DOWNLINKS,
                     "Sigfox contracts allow at most 4 downlinks a day")
        _check_count("downlink_every", downlink_every, 0, None,
                     "give 0 (never) or N to ask with every Nth uplink")
        if interval * daily_limit < _DAY:
            log.warning("Sigfox uplinks every %g s spend the %d uplinks of a day in %.1f h; the rest of "
                        "the day is refused", interval, daily_limit, interval * daily_limit / 3600)
        self.modem = modem
        self.fields = tuple(fields)
        self.interval = float(interval)
        self.downlink_every = downlink_every
        self.budget = SigfoxBudget(daily_uplinks=daily_limit, daily_downlinks=daily_downlink_limit,
                                   min_interval=float(min_interval))
        self.send_at_start = send_at_start
        self.sent = 0
        """Uplinks the modem confirmed."""
        self.refused = 0
        """Uplinks the budget did not allow."""
        self.failed = 0
        """Uplinks that could not be built (a resource did not read) or that the modem did not confirm."""
        self.downlinks = 0
        """Downlinks received."""
        self._read = read
        self._on_downlink = on_downlink
        self._clock = clock
        self._attempts = 0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.queue = queue
        self.destination = destination
        self._retry_initial = retry_initial
        self._deliverer: Deliverer | None = None

    @property
    def _budget_key(self) -> str:
        return f"sigfox-budget:{self.destination}"

    async def start(self) -> None:
        if self._task is not None:
            return
        await self.modem.open()
        if self.queue is not None:
            from .delivery import Deliverer

            saved = await self.queue.get_state(self._budget_key)
            if saved is not None:
                self.budget.restore(saved)
            self._deliverer = Deliverer(self.queue, self.destination, _SigfoxTransport(self),
                                        retry_initial=self._retry_initial, retry_max=max(self._retry_initial, 600.0))
            self._deliverer.start()
        self._task = asyncio.create_task(self._run(), name="sigfox-uplinks")

    async def close(self) -> None:
        if self._task is None:
            return
        task, self._task = self._task, None
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        if self._deliverer is not None:
            await self._deliverer.close()
            self._deliverer = None
        await self.modem.close()

    async def queue_now(self) -> str:
        """Read the fields, pack the frame and queue it (durably); returns the reading id.

        Raises SigfoxError when a resource does not read or the frame does not pack.
        """
        if self.queue is None:
            raise RuntimeError("queue_now needs a queue")
        try:
            frame = await self._frame()
        except SigfoxError:
            self.failed += 1
            raise
        return await self.queue.enqueue(self.destination, frame)

    async def send_now(self) -> bytes | None:
        """One uplink now; returns the downlink when one was asked for and came.

        Raises SigfoxBudgetExceeded when the budget forbids it and SigfoxError when a resource does not
        read or the modem fails (both 5.03 for an LwM2M caller).
        """
        return await self.transmit(None)

    async def transmit(self, frame: bytes | None) -> bytes | None:
        """Send ``frame`` (None: read and pack one now) within the budget; returns the downlink, if any."""
        async with self._lock:
            now = self._clock()
            refusal = self.budget.refusal(now)
            if refusal is not None:
                self.refused += 1
                raise SigfoxBudgetExceeded(refusal)
            if frame is None:
                try:
                    frame = await self._frame()
                except SigfoxError:
                    self.failed += 1
                    raise
            ask = self._downlink_due(now)
            self._attempts += 1
            self.budget.spend(now, downlink=ask)
            if self.queue is not None:  # on disk before the radio: a crash right after still counts it
                await self.queue.set_state(self._budget_key, self.budget.snapshot())
            try:
                downlink = await self.modem.send(frame, downlink=ask)
            except SigfoxError:
                self.failed += 1
                raise
            self.sent += 1
        if downlink is not None:
            self.downlinks += 1
            if self._on_downlink is not None:
                try:
                    await self._on_downlink(downlink)
                except Exception:
                    log.exception("handling Sigfox downlink %s failed", downlink.hex())
        return downlink

    async def _frame(self) -> bytes:
        values: dict[str, Value] = {}
        for field in self.fields:
            try:
                values[field.name] = await self._read(field.path)
            except LwM2MError as exc:
                raise SigfoxError(f"cannot read {field.path} for Sigfox field {field.name}: "
                                  f"{exc.message or exc.code_text}") from None
        try:
            return pack_frame(self.fields, values)
        except SigfoxFrameError as exc:
            raise SigfoxError(f"cannot pack the Sigfox frame: {exc}") from None

    def _downlink_due(self, now: float) -> bool:
        if self.downlink_every <= 0 or (self._attempts + 1) % self.downlink_every != 0:
            return False
        if not self.budget.may_ask_downlink(now):
            log.info("Sigfox downlink due, but today's %d downlinks are spent: uplink only",
                     self.budget.daily_downlinks)
            return False
        return True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + (0.0 if self.send_at_start else self.interval)
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                if self.queue is not None:
                    await self.queue_now()
                else:
                    await self.send_now()
            except SigfoxBudgetExceeded as exc:
                log.info("Sigfox uplink skipped: %s", exc)
            except SigfoxError as exc:
                log.warning("Sigfox uplink failed: %s; next try in %g s", exc.message, self.interval)
            except Exception:
                log.exception("Sigfox uplink failed; next try in %g s", self.interval)
            next_at += self.interval
            behind = loop.time() - next_at
            if behind > 0:  # a slow modem: skip the missed slots instead of sending them in a burst
                next_at += math.ceil(behind / self.interval) * self.interval


class _SigfoxTransport:
    """The modem as a queue destination: frames go when the budget and the modem allow, else they wait."""

    def __init__(self, uplinks: SigfoxUplinks) -> None:
        self.uplinks = uplinks
        self.description = f"Sigfox modem {uplinks.modem.device}"

    async def deliver(self, reading: Reading) -> None:
        from .delivery import DeliveryError, NotReady

        uplinks = self.uplinks
        wait = uplinks.budget.wait(uplinks._clock())
        if wait > 0:
            raise NotReady("the Sigfox budget allows no uplink now", retry_after=min(wait, 3600.0))
        if not uplinks.modem.is_open:
            raise NotReady(f"the Sigfox modem on {uplinks.modem.device} is not available", retry_after=5.0)
        try:
            await uplinks.transmit(reading.payload)
        except SigfoxBudgetExceeded as exc:
            raise NotReady(exc.message, retry_after=max(0.05, uplinks.budget.wait(uplinks._clock()))) from None
        except SigfoxError as exc:
            raise DeliveryError(exc.message) from None

    async def close(self) -> None:
        return None


def _number_at_least(value: object, floor: float) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
            and value >= floor)


def _check_count(name: str, value: object, low: int, high: int | None, fix: str) -> None:
    too_high = high is not None and isinstance(value, int) and value > high
    if isinstance(value, bool) or not isinstance(value, int) or value < low or too_high:
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise HardwareConfigError(name, f"{value!r} is not a whole number {bounds}", fix)
