"""A shared periodic timer for everything in the agent that changes on a period.

A simulator profile may hold a thousand simulated sources; one asyncio task each would cost a
coroutine frame, a task object and a timer per source and wake the loop a thousand times a
period. The ticker keeps one loop timer per distinct period instead: every source with a 1 s period
is stepped by the same callback, so the loop wakes once a second whatever the number of sources,
and an idle agent with no sources has no timer at all.

Ticks are scheduled on absolute deadlines (start + n * period) so they do not drift; when the loop
falls behind, missed ticks are skipped rather than fired in a burst.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable

log = logging.getLogger(__name__)

TickCallback = Callable[[], None]


class _Group:
    """The callbacks sharing one period, and the loop timer that fires them."""

    __slots__ = ("callbacks", "deadline", "handle", "next_key", "period")

    def __init__(self, period: float, deadline: float) -> None:
        self.period = period
        self.deadline = deadline
        self.callbacks: dict[int, TickCallback] = {}
        self.handle: asyncio.TimerHandle | None = None
        self.next_key = 0


class Ticker:
    """Calls subscribed functions every ``period`` seconds, one loop timer per distinct period."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._groups: dict[float, _Group] = {}

    def subscribe(self, period: float, callback: TickCallback) -> Callable[[], None]:
        """Call ``callback`` every ``period`` seconds from now on; returns the unsubscribe function."""
        if not period > 0:
            raise ValueError(f"a tick period must be positive, not {period!r}")
        group = self._groups.get(period)
        if group is None:
            group = _Group(period, self._loop.time() + period)
            self._groups[period] = group
            group.handle = self._loop.call_at(group.deadline, self._fire, group)
        key = group.next_key
        group.next_key += 1
        group.callbacks[key] = callback

        def unsubscribe() -> None:
            group.callbacks.pop(key, None)
            if not group.callbacks and self._groups.get(group.period) is group:
                del self._groups[group.period]
                if group.handle is not None:
                    group.handle.cancel()
                    group.handle = None

        return unsubscribe

    @property
    def timer_count(self) -> int:
        """How many loop timers the ticker holds (one per period in use)."""
        return len(self._groups)

    def _fire(self, group: _Group) -> None:
        for callback in list(group.callbacks.values()):
            try:
                callback()
            except Exception:
                # One broken source must not stop the others sharing its period.
                log.exception("tick callback %r failed", callback)
        if self._groups.get(group.period) is not group:
            return
        now = self._loop.time()
        group.deadline += group.period
        if group.deadline <= now:
            skipped = int((now - group.deadline) // group.period) + 1
            group.deadline += skipped * group.period
        group.handle = self._loop.call_at(group.deadline, self._fire, group)


_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Ticker] = weakref.WeakKeyDictionary()


def shared_ticker() -> Ticker:
    """The ticker of the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    ticker = _shared.get(loop)
    if ticker is None:
        ticker = Ticker(loop)
        _shared[loop] = ticker
    return ticker
