"""aiocoap's message layer with a bounded duplicate-detection cache.

RFC 7252 §4.5 asks a receiver to recognise a retransmitted CON for EXCHANGE_LIFETIME (~247 s) and
answer it with the response it already sent. aiocoap keeps every request's (peer, message ID) and
its response for that long, each with its own timer: about 1.6 KB a datagram with no upper bound,
so a burst of requests costs memory for four minutes. Here the same cache is a bounded ordered map
without timers: entries expire in arrival order and, past ``max_entries``, the oldest go first.
An evicted entry only means a very late retransmission is processed again, which LwM2M's
idempotent requests tolerate (a duplicate Execute is the one exception, and it would need a server
retransmitting after a thousand newer requests: 1,024 entries cover four minutes of a server
sending four requests a second). Each entry holds the response, which holds its request: ~2 KB.

Only the two methods that hold the cache are overridden; the rest is aiocoap's ``MessageManager``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from aiocoap.messagemanager import MessageManager
from aiocoap.numbers.types import CON

DEFAULT_MAX_ENTRIES = 1024


class BoundedMessageManager(MessageManager):
    max_entries = DEFAULT_MAX_ENTRIES

    def __init__(self, token_manager: Any) -> None:
        super().__init__(token_manager)
        self._seen: OrderedDict[tuple[Any, int], tuple[float, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def _deduplicate_message(self, message: Any) -> bool:
        now = time.monotonic()
        self._expire(now)
        key = (message.remote, message.mid)
        seen = self._seen.get(key)
        if seen is not None:
            if message.mtype is CON and seen[1] is not None:
                self._send_initially(seen[1])
            return True
        self._seen[key] = (now + message.transport_tuning.EXCHANGE_LIFETIME, None)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return False

    def _store_response_for_duplicates(self, message: Any) -> None:
        key = (message.remote, message.mid)
        seen = self._seen.get(key)
        if seen is not None:
            self._seen[key] = (seen[0], message)

    def _expire(self, now: float) -> None:
        while self._seen:
            expiry, _ = next(iter(self._seen.values()))
            if expiry > now:
                return
            self._seen.popitem(last=False)


def message_manager_of(context: Any) -> BoundedMessageManager | None:
    """The bounded message manager of an aiocoap context built by guard.py, if it has one."""
    for interface in getattr(context, "request_interfaces", ()):
        manager = getattr(interface, "token_interface", None)
        if isinstance(manager, BoundedMessageManager):
            return manager
    return None
