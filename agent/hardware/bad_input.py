"""Counting and logging bad input from hardware without flooding the log.

A serial GPS with a loose wire can produce hundreds of corrupt sentences a second. Every bad line
is counted (the count is what an operator or a test looks at), the first one is logged with its
reason, and after that at most one summary per interval, so journald stays readable and the agent
does not spend its time formatting log records.
"""

from __future__ import annotations

import logging
import time


class BadInputCounter:
    """Counts rejected input of one source; logs the first and then one summary per ``interval``."""

    __slots__ = ("_last_log", "_logger", "_since_log", "count", "interval", "last_reason", "what")

    def __init__(self, logger: logging.Logger, what: str, *, interval: float = 60.0) -> None:
        self._logger = logger
        self.what = what
        self.interval = interval
        self.count = 0
        self.last_reason = ""
        self._since_log = 0
        self._last_log: float | None = None

    def record(self, reason: str) -> None:
        self.count += 1
        self._since_log += 1
        self.last_reason = reason
        now = time.monotonic()
        if self._last_log is None or now - self._last_log >= self.interval:
            if self._last_log is None:
                self._logger.warning("bad input from %s: %s", self.what, reason)
            else:
                self._logger.warning(
                    "%d more bad inputs from %s (%d in all); latest: %s",
                    self._since_log, self.what, self.count, reason,
                )
            self._last_log = now
            self._since_log = 0
