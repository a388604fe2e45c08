"""Notification storing: what the agent would have notified while the server was out of reach.

LwM2M's Server object has resource 6, *Notification Storing When Disabled or Offline* (default true here):
while the client cannot reach its server, notifications are stored and reported once it can again; with
false they are dropped. "Cannot reach" is what the registration engine knows: the agent is not registered
(a Register or Update failed and it is backing off).

aiocoap ends every observation of a peer as soon as a confirmable message to it fails, so a failed Update
would end the observations whose notifications are to be stored. The registry therefore asks :meth:`park`:
with storing on, such an observation is kept (parked) and goes on sampling with its pmin/pmax; what it
notifies goes into the durable queue, in order. Once registered again, and once the server observes the
same path again (a server re-observes after a new Register, as Inventory does; within ``observe_grace``),
the stored notifications are sent on that observation, oldest first and confirmable, and every new
notification queues behind them until the backlog is empty, so the server sees them in the order they were
made; SenML payloads carry no time of their own, so a server places them by arrival. A stored notification
no observation takes within the grace (or after an agent restart) is counted and logged, never silently
lost. Known gap: an outage shorter than the next Register/Update goes unnoticed, and the non-confirmable
notifications sent into it are lost, as without notification storing.

The observation registry calls :meth:`NotificationStore.hold` and :meth:`park`; this module is the only
other piece, so the client code changes by two hooks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import cbor2
from aiocoap import Code, Message
from aiocoap.numbers.constants import Reliable
from aiocoap.numbers.contentformat import ContentFormat as CoapContentFormat

from ..core.path import Path
from .delivery import Deliverer, NotReady
from .queue import Reading, TelemetryQueue

if TYPE_CHECKING:
    from ..client.observe import ActiveObservation, ObservationRegistry

log = logging.getLogger(__name__)

DESTINATION = "notifications"


class NotificationStore:
    """Holds the registry's notifications while ``reachable()`` is false; ``storing()`` is resource 6."""

    def __init__(self, queue: TelemetryQueue, registry: ObservationRegistry, reachable: Callable[[], bool],
                 storing: Callable[[], bool], *, observe_grace: float = 60.0) -> None:
        self.queue = queue
        self.registry = registry
        self._reachable = reachable
        self._storing = storing
        self.stored = 0
        self.dropped = 0
        """Notifications dropped: storing was off, or their observation was gone when they could be sent."""
        self.replayed = 0
        self._backlog = queue.depth(DESTINATION)
        self._writes: set[asyncio.Task[str]] = set()
        self._online_since: float | None = None
        self.observe_grace = observe_grace
        self.verify_after = 1.0
        self.deliverer = Deliverer(queue, DESTINATION, _Replay(self), retry_initial=0.2, retry_max=5.0)

    def start(self) -> None:
        self.registry.hold = self.hold
        self.registry.park = self.park
        self.deliverer.start()
        self._watch = asyncio.get_running_loop().create_task(self._end_stale_parked())

    async def close(self) -> None:
        self._watch.cancel()
        if self.registry.hold == self.hold:
            self.registry.hold = None
            self.registry.park = None
            self.registry.close_parked()  # nothing would take what they notify any more
        for write in list(self._writes):
            await asyncio.shield(write)
        await self.deliverer.close()

    # ---- the registry's hook -----------------------------------------------------------------------
    def park(self, obs: ActiveObservation) -> bool:
        """The transport ended ``obs``: keep it notifying into the store while storing is on.

        aiocoap ends a peer's observations when a confirmable message to it fails, before the registration
        engine hears of the failure; so the check that the server is really out of reach comes a moment
        later, and an observation ended while the server stays reachable (it cancelled) is closed then.
        """
        if not self._storing():
            return False
        asyncio.get_running_loop().call_later(self.verify_after, self._verify_parked, obs)
        return True

    def _verify_parked(self, obs: ActiveObservation) -> None:
        if obs.parked and self._reachable():
            self.registry.close_parked(obs)

    def hold(self, obs: ActiveObservation, msg: Message) -> bool:
        if self._backlog == 0 and self._reachable() and not obs.parked:
            return False
        if not self._storing():
            self.dropped += 1
            log.warning("notification of %s dropped: the server cannot be reached and notification storing "
                        "(/1/x/6) is off", obs.path)
            return True
        record = {"token": obs.token, "paths": [str(path) for path in obs.paths], "format": obs.content_format,
                  "payload": msg.payload}
        self._backlog += 1
        self.stored += 1
        write = asyncio.get_running_loop().create_task(self.queue.enqueue(DESTINATION, cbor2.dumps(record)))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)
        return True

    def _online_for(self) -> float:
        """Seconds the agent has been registered without a break (0 while it is not)."""
        now = asyncio.get_running_loop().time()
        if not self._reachable():
            self._online_since = None
            return 0.0
        if self._online_since is None:
            self._online_since = now
        return now - self._online_since

    async def _end_stale_parked(self) -> None:
        """A parked observation that its server has not observed again ``observe_grace`` s after the agent
        is registered again has nobody to notify: end it."""
        while True:
            await asyncio.sleep(min(1.0, self.observe_grace / 4))
            if self._online_for() >= self.observe_grace and self.registry.close_parked():
                log.info("observations that ended in the outage and were not observed again are closed")

    # ---- sending them late -----------------------------------------------------------------------
    async def replay(self, reading: Reading) -> None:
        online_for = self._online_for()
        if online_for == 0.0 and not self._reachable():
            raise NotReady("not registered", retry_after=0.2)
        record = cbor2.loads(reading.payload)
        obs = self.registry.find(record["token"], [Path.parse(text) for text in record["paths"]])
        if obs is None and online_for < self.observe_grace:
            # A failed Register/Update makes aiocoap end the observations of that server; give the server
            # time to observe again after it registered us anew.
            raise NotReady("waiting for the server to observe again", retry_after=0.2)
        self._backlog = max(0, self._backlog - 1)
        if obs is None:
            self.dropped += 1
            log.warning("stored notification %s of %s dropped: no observation of it after %g s online",
                        reading.reading_id, ", ".join(record["paths"]), self.observe_grace)
            return
        msg = Message(code=Code.CONTENT, payload=record["payload"], transport_tuning=Reliable())
        msg.opt.content_format = CoapContentFormat(record["format"])
        msg.opt.observe = self.registry.next_sequence(obs)
        obs.pipe.add_response(msg, is_last=False)
        self.replayed += 1



class _Replay:
    """The stored notifications' destination in the queue: the observations they belong to."""

    description = "the observing LwM2M server"

    def __init__(self, store: NotificationStore) -> None:
        self._store = store

    async def deliver(self, reading: Reading) -> None:
        await self._store.replay(reading)

    async def close(self) -> None:
        return None


def server_storing(read_stored: Callable[[], object]) -> Callable[[], bool]:
    """Resource 6 of the Server object as a predicate: true unless it holds false."""
    return lambda: read_stored() is not False
