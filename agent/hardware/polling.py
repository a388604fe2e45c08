"""Turning a value that is only known when read into change notifications.

Files, commands, /proc facts and query-driven serial sensors do not tell anyone when their value
changes. A binding that takes ``poll_interval`` re-reads itself on the shared ticker and calls
``changed()`` when the value differs from the last one, so an observation with ``gt``/``lt``/``st``
attributes fires when the value moves, not only at ``pmax``. Without ``poll_interval`` nothing is
polled and observations rely on their own ``pmax``. Such bindings derive from
:class:`PolledBinding`, which holds the poller and runs it between ``start`` and ``close``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..core.errors import LwM2MError
from ..tree.binding import ResourceBinding, ResourceContent
from .errors import HardwareConfigError
from .ticker import Ticker, shared_ticker

log = logging.getLogger(__name__)

_NEVER_READ = object()
_UNAVAILABLE = object()


def check_poll_interval(poll_interval: float | None) -> float | None:
    """Validate a profile's ``poll_interval`` (None: do not poll)."""
    if poll_interval is None:
        return None
    if isinstance(poll_interval, bool) or not isinstance(poll_interval, (int, float)) or poll_interval <= 0:
        raise HardwareConfigError("poll_interval", f"{poll_interval!r} is not a positive number of seconds",
                                  "give e.g. poll_interval = 5.0, or leave it out to not poll")
    return float(poll_interval)


class ChangePoller:
    """Re-reads one binding every ``interval`` seconds; calls its ``changed()`` when the value moves."""

    __slots__ = ("_binding", "_busy", "_interval", "_last", "_task", "_ticker", "_unsubscribe")

    def __init__(self, binding: ResourceBinding, interval: float, ticker: Ticker | None = None) -> None:
        self._binding = binding
        self._interval = interval
        self._ticker = ticker
        self._unsubscribe: Callable[[], None] | None = None
        self._last: object = _NEVER_READ
        self._busy = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._unsubscribe is None:
            ticker = self._ticker or shared_ticker()
            self._unsubscribe = ticker.subscribe(self._interval, self._tick)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _tick(self) -> None:
        # A slow read (a command near its timeout) must not pile up reads behind it.
        if not self._busy:
            self._busy = True
            self._task = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        try:
            value: ResourceContent | object
            try:
                value = await self._binding.read()
            except LwM2MError:
                value = _UNAVAILABLE
            # The first poll only sets the baseline; after that any difference, including the
            # hardware going away or coming back, is a change observers may care about.
            if value != self._last:
                notify = self._last is not _NEVER_READ
                self._last = value
                if notify:
                    self._binding.changed()
        except Exception:
            log.exception("polling %r failed", self._binding)
        finally:
            self._busy = False


class PolledBinding(ResourceBinding):
    """A binding whose value is known only when read, polled for changes when the profile asks.

    A subclass calls :meth:`poll_changes` with its ``poll_interval`` once its own settings are
    checked; :meth:`start` and :meth:`close` run the poller (a subclass that opens more calls them too).
    """

    __slots__ = ("_poller",)

    def __init__(self) -> None:
        super().__init__()
        self._poller: ChangePoller | None = None

    def poll_changes(self, poll_interval: float | None, ticker: Ticker | None = None) -> None:
        """Re-read every ``poll_interval`` seconds (checked; None: never) and notify observers of changes."""
        interval = check_poll_interval(poll_interval)
        self._poller = ChangePoller(self, interval, ticker) if interval is not None else None

    async def start(self) -> None:
        if self._poller is not None:
            self._poller.start()

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.close()
