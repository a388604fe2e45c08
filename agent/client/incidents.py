"""Rate-limited accounting of refused and malformed requests: counts always, one log line per interval.

An attacker who can send datagrams can also make the agent write log lines, so a refused datagram
or a malformed request is never logged by itself: it is counted under a kind ("refused",
"4.02", ...) and the counts since the last line are logged as one summary line at most once per
``interval`` (a minute by default). The totals stay readable for tests and status pages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

log = logging.getLogger(__name__)

# How many distinct sources a summary line names; the rest are only counted.
_NAMED_SOURCES = 3
# Distinct sources remembered within one interval: the set must not grow with an attacker's addresses.
_MAX_SOURCES = 64


class IncidentLog:
    """Counts of incidents by kind, with one summary log line per ``interval`` seconds at most."""

    def __init__(self, what: str, interval: float = 60.0, logger: logging.Logger = log) -> None:
        self.what = what
        self.interval = interval
        self.totals: Counter[str] = Counter()
        self._pending: Counter[str] = Counter()
        self._sources: Counter[str] = Counter()
        self._last_line = -interval
        self._flush_handle: asyncio.TimerHandle | None = None
        self._log = logger

    def note(self, kind: str, source: object = None) -> None:
        """Count one incident; log the summary now if the interval has passed, else later."""
        self.totals[kind] += 1
        self._pending[kind] += 1
        if source is not None:
            key = str(source)
            if key in self._sources or len(self._sources) < _MAX_SOURCES:
                self._sources[key] += 1
        now = time.monotonic()
        if now - self._last_line >= self.interval:
            self.flush()
        elif self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._flush_handle = loop.call_later(self._last_line + self.interval - now, self.flush)

    def flush(self) -> None:
        """Log what was counted since the last line (nothing when nothing was)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not self._pending:
            return
        counts = ", ".join(f"{kind} x{n}" for kind, n in sorted(self._pending.items()))
        line = f"{self.what}: {counts}"
        if self._sources:
            named = ", ".join(f"{src} x{n}" for src, n in self._sources.most_common(_NAMED_SOURCES))
            more = len(self._sources) - _NAMED_SOURCES
            line += f" (from {named}{f' and {more} more' if more > 0 else ''})"
        self._log.warning("%s", line)
        self._pending.clear()
        self._sources.clear()
        self._last_line = time.monotonic()

    def close(self) -> None:
        self.flush()

    def __getitem__(self, kind: str) -> int:
        return self.totals[kind]

    def total(self) -> int:
        return sum(self.totals.values())


class LogThrottle(logging.Filter):
    """A filter for a library's logger: each message template gets one line per interval, the rest
    become counts in ``incidents`` (aiocoap warns once per odd datagram, which a peer controls)."""

    _MAX_TEMPLATES = 256

    def __init__(self, incidents: IncidentLog, interval: float = 60.0) -> None:
        super().__init__()
        self.incidents = incidents
        self.interval = interval
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        template = str(record.msg)
        now = time.monotonic()
        last = self._last.get(template)
        if last is None or now - last >= self.interval:
            if last is None and len(self._last) >= self._MAX_TEMPLATES:
                self._last.clear()
            self._last[template] = now
            return True
        self.incidents.note(f"aiocoap: {template[:50]}")
        return False
