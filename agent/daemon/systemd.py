"""systemd integration: ``Type=notify`` readiness, status lines and the watchdog.

The watchdog ping is sent from the event loop itself, so a loop that is stuck (a blocking call, a
busy loop) stops the pings and systemd restarts the agent -- which is the point of a watchdog.
Outside systemd (no ``NOTIFY_SOCKET``) every call here does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

import sdnotify

log = logging.getLogger(__name__)


class Systemd:
    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._notifier = sdnotify.SystemdNotifier() if self.enabled else None
        self._watchdog: asyncio.Task[None] | None = None

    def notify(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(message)

    def ready(self, status: str) -> None:
        self.notify(f"READY=1\nSTATUS={status}")

    def status(self, status: str) -> None:
        self.notify(f"STATUS={status}")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def start_watchdog(self) -> None:
        """Ping at half the interval systemd asked for (``WatchdogSec=`` sets ``WATCHDOG_USEC``)."""
        usec = os.environ.get("WATCHDOG_USEC")
        if not self.enabled or not usec:
            return
        try:
            interval = int(usec) / 2_000_000
        except ValueError:
            log.warning("ignoring WATCHDOG_USEC=%r", usec)
            return
        self._watchdog = asyncio.get_running_loop().create_task(self._ping(interval))

    async def _ping(self, interval: float) -> None:
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
