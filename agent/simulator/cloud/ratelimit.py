"""A per-key sliding-window rate limit, for the endpoints the real service throttles with 429.

Pure bookkeeping over a monotonic clock (injectable, so a test can step time instead of sleeping):
``acquire`` either counts the request or says how long the caller must wait, which becomes Retry-After.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from agent.simulator.cloud.config import RateLimit


class SlidingWindowLimiter:
    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._recent: dict[str, deque[float]] = {}

    def acquire(self, key: str) -> float | None:
        """Count one request for ``key``; None if allowed, else the seconds until one would be."""
        now = self._clock()
        recent = self._recent.setdefault(key, deque())
        horizon = now - self.limit.per_seconds
        while recent and recent[0] <= horizon:
            recent.popleft()
        if len(recent) >= self.limit.max_requests:
            return recent[0] - horizon
        recent.append(now)
        if len(self._recent) > 10_000:
            self._forget_idle(horizon)
        return None

    def _forget_idle(self, horizon: float) -> None:
        """Drop keys with no request in the window, so a large fleet does not grow the table forever."""
        for key in [key for key, recent in self._recent.items() if not recent or recent[-1] <= horizon]:
            del self._recent[key]
