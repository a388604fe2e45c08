"""Delivering one destination's queued readings, in order, until the receiver takes each one.

A :class:`Deliverer` owns one destination: it reads the oldest readings from the durable queue, hands
them one at a time to its :class:`Transport`, and tells the queue which ones the receiver took. A
failure keeps the reading at the head of that destination's line and waits (exponential backoff with
jitter, or the receiver's ``Retry-After``) before trying it again, so each destination keeps its order
and one unreachable receiver never holds up another. Successes are forgotten in small batches: after a
crash the last few may be sent twice, which the reading id lets a receiver notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from ..client.registration import Backoff
from .queue import Reading, TelemetryQueue
from .settings import QueueLimits

log = logging.getLogger(__name__)

_ACK_BATCH = 64
_ACK_DELAY = 0.2  # seconds a delivered reading may wait before its delete is committed
_EXPIRE_EVERY = 60.0


class LoopTask:
    """The one background task of a telemetry part: started once, cancelled and awaited on stop."""

    def __init__(self, run: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        self._run = run
        self._name = name
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class DeliveryError(Exception):
    """The receiver did not take the reading; ``retry_after`` is its own say on when to try again."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class NotReady(DeliveryError):
    """The destination cannot send now for a reason that is not a failure (a budget, a registration)."""


class Transport(Protocol):
    """Sends one reading to one receiver; raises DeliveryError unless the receiver took it.

    A transport that sends several readings in one message also has ``batch_size`` (> 1), ``pace`` (seconds
    to wait after each message) and ``deliver_many(readings)``.
    """

    description: str

    async def deliver(self, reading: Reading) -> None: ...

    async def close(self) -> None: ...


class Deliverer:
    """Sends the readings of ``destination`` through ``transport`` while running."""

    def __init__(self, queue: TelemetryQueue, destination: str, transport: Transport, *,
                 limits: QueueLimits | None = None, retry_initial: float = 1.0, retry_max: float = 300.0) -> None:
        self.queue = queue
        self.destination = destination
        self.transport = transport
        self.backoff = Backoff(initial=retry_initial, maximum=retry_max)
        self.delivered = 0
        self.failures = 0
        queue.add_destination(destination, limits)
        self._loop = LoopTask(self._run, f"deliver-{destination}")
        self._last_error: str | None = None
        self._waiting: str | None = None
        self._acked: list[int] = []  # delivered, delete not yet committed
        self._acked_at = 0.0

    def start(self) -> None:
        self._loop.start()

    async def close(self) -> None:
        await self._loop.stop()
        await self.transport.close()

    async def _run(self) -> None:
        arrived = self.queue.arrived(self.destination)
        last_expire = 0.0
        try:
            while True:
                if time.monotonic() - last_expire >= _EXPIRE_EVERY:
                    last_expire = time.monotonic()
                    await self.queue.expire(self.destination)
                arrived.clear()
                batch = await self.queue.head(self.destination, _ACK_BATCH)
                if not batch:
                    await self._wait(arrived, _EXPIRE_EVERY)
                    continue
                self._acked_at = time.monotonic()
                size = getattr(self.transport, "batch_size", 1)
                if size > 1:  # a transport that takes several readings in one message (a CSV file)
                    group = batch[:size]
                    send_many = functools.partial(self.transport.deliver_many, group)  # type: ignore[attr-defined]
                    await self._until_taken(send_many, group[0])
                    self._acked += [reading.seq for reading in group]
                    await self._commit()
                    await asyncio.sleep(getattr(self.transport, "pace", 0.0))
                    continue
                for reading in batch:
                    await self._deliver(reading)
                    self._acked.append(reading.seq)
                    if len(self._acked) >= _ACK_BATCH or time.monotonic() - self._acked_at >= _ACK_DELAY:
                        await self._commit()
                await self._commit()
        finally:
            if self._acked:
                # Cancelled between a success and its delete: commit what we know (best effort).
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._commit())

    async def _commit(self) -> None:
        acked, self._acked = self._acked, []
        self._acked_at = time.monotonic()
        try:
            await self.queue.delivered(self.destination, acked)
        except BaseException:
            self._acked = acked + self._acked
            raise

    async def _deliver(self, reading: Reading) -> None:
        await self._until_taken(functools.partial(self.transport.deliver, reading), reading)

    async def _until_taken(self, send: Callable[[], Awaitable[None]], reading: Reading) -> None:
        while True:
            try:
                await send()
            except NotReady as exc:
                await self._wait_retry(exc, reading, count=False)
                continue
            except DeliveryError as exc:
                await self._wait_retry(exc, reading, count=True)
                continue
            except (TimeoutError, OSError) as exc:
                await self._wait_retry(DeliveryError(f"{type(exc).__name__}: {exc}"), reading, count=True)
                continue
            except Exception as exc:  # a bug must not stop the destination for good: say it, and try again
                log.exception("telemetry %s: sending reading %s failed", self.destination, reading.reading_id)
                await self._wait_retry(DeliveryError(f"internal error: {type(exc).__name__}: {exc}"), reading,
                                       count=True)
                continue
            self._waiting = None
            if self._last_error is not None:
                log.info("telemetry %s: delivering again to %s", self.destination, self.transport.description)
                self._last_error = None
            self.backoff.reset()
            self.delivered += 1
            return

    async def _wait_retry(self, exc: DeliveryError, reading: Reading, *, count: bool) -> None:
        if self._acked:  # what went before is delivered: say so before a wait of unknown length
            await self._commit()
        delay = exc.retry_after if exc.retry_after is not None else self.backoff.next_delay()
        if count:
            self.failures += 1
            if exc.message != self._last_error:
                log.warning("telemetry %s: %s did not take reading %s: %s; retrying in %.1f s", self.destination,
                            self.transport.description, reading.reading_id, exc.message, delay)
            self._last_error = exc.message
            await self.queue.failed(self.destination, exc.message)
        elif exc.message != self._waiting:  # not a failure, but queue status says why readings wait
            log.info("telemetry %s: waiting: %s", self.destination, exc.message)
            await self.queue.failed(self.destination, f"waiting: {exc.message}")
        self._waiting = None if count else exc.message
        await asyncio.sleep(delay)

    @staticmethod
    async def _wait(event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()
