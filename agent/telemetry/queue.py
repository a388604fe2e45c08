"""The durable telemetry queue: a reading is on disk before anyone is told it was queued.

A measurement that is lost is a defect, so every reading goes to an sqlite database (WAL journal) in the
agent's state directory before it goes anywhere else. :meth:`TelemetryQueue.enqueue` returns only after
the transaction holding the reading is committed with ``synchronous=FULL``: a ``kill -9`` or a power cut
after that loses nothing. Enqueues that arrive while a commit is in flight share the next one (group
commit), which is how the queue takes tens of thousands of readings a second without giving up that
promise. All database work runs on one thread of its own, so the event loop never waits on a disk.

Each destination (a Harvest endpoint, the Sigfox modem, ...) reads its own readings in the order they
were queued; :meth:`delivered` deletes them once the receiver took them. Deletes commit with
``synchronous=NORMAL``: a power cut may undo a delete, and the reading is then sent again. That is
at-least-once delivery, and why every reading carries an id a receiver can drop duplicates by.

Limits (rows, bytes, age) are per destination. A reading over a limit is dropped oldest first, counted
in the database and announced with one ERROR line per drop; nothing is ever dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .settings import QueueLimits

log = logging.getLogger(__name__)

QUEUE_FILE = "telemetry.sqlite"
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    seq INTEGER PRIMARY KEY,
    destination TEXT NOT NULL,
    reading_id TEXT NOT NULL,
    taken_ms INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS readings_by_destination ON readings (destination, seq);
CREATE TABLE IF NOT EXISTS destinations (
    name TEXT PRIMARY KEY,
    delivered INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0,
    last_success_ms INTEGER,
    last_error TEXT,
    last_error_ms INTEGER
);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Reading:
    """One queued reading: ``payload`` is what the destination's encoder turns into a message."""

    seq: int
    destination: str
    reading_id: str
    taken_ms: int
    payload: bytes


@dataclass(frozen=True)
class DestinationStatus:
    """What ``lwm2m-agent queue status`` prints for one destination."""

    name: str
    depth: int
    bytes: int
    oldest_ms: int | None
    delivered: int
    dropped: int
    last_success_ms: int | None
    last_error: str | None
    last_error_ms: int | None


@dataclass
class _Pending:
    destination: str
    reading_id: str
    taken_ms: int
    payload: bytes


def queue_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / QUEUE_FILE


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection to the queue database at ``path`` (created, owner-only, WAL)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fresh = not path.exists()
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    if fresh:
        os.chmod(path, 0o600)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(_SCHEMA)
    return db


class TelemetryQueue:
    """The queue in ``path`` (usually ``queue_path(state_dir)``); ``close()`` when done."""

    def __init__(self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="telemetry-queue")
        self._db = connect(self.path)
        self._limits: dict[str, QueueLimits] = {}
        self._depth: dict[str, list[int]] = {}  # destination -> [rows, bytes], touched on the db thread only
        for name, rows, size in self._db.execute(
                "SELECT destination, count(*), coalesce(sum(length(payload)), 0) FROM readings GROUP BY destination"):
            self._depth[name] = [int(rows), int(size)]
        # Reading ids: a random prefix per open and a counter, unique across restarts without a lookup.
        self._id_prefix = secrets.token_hex(6)
        self._counter = 0
        self._pending: list[tuple[_Pending, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._arrived: dict[str, asyncio.Event] = {}
        self._closed = False

    @classmethod
    def in_state_dir(cls, state_dir: str | os.PathLike[str]) -> TelemetryQueue:
        return cls(queue_path(state_dir))

    # ---- configuration ----------------------------------------------------------------------------
    def add_destination(self, name: str, limits: QueueLimits | None = None) -> None:
        """Declare a destination and its limits (readings for an undeclared one get the defaults)."""
        self._limits[name] = limits or QueueLimits()
        # On the queue's own thread, like every other use of the connection (it is not shared between threads).
        self._executor.submit(self._db.execute, "INSERT OR IGNORE INTO destinations (name) VALUES (?)", (name,))

    def limits(self, name: str) -> QueueLimits:
        return self._limits.get(name) or QueueLimits()

    def arrived(self, destination: str) -> asyncio.Event:
        """Set whenever readings for ``destination`` were committed (a deliverer clears it)."""
        event = self._arrived.get(destination)
        if event is None:
            event = self._arrived[destination] = asyncio.Event()
        return event

    # ---- enqueue ------------------------------------------------------------------------------------
    def new_id(self) -> str:
        self._counter += 1
        return f"{self._id_prefix}-{self._counter}"

    async def enqueue(self, destination: str, payload: bytes, *, taken_ms: int | None = None) -> str:
        """Queue one reading; returns its id once it is committed to disk."""
        if self._closed:
            raise RuntimeError("the telemetry queue is closed")
        reading = _Pending(destination, self.new_id(), self._now_ms() if taken_ms is None else taken_ms,
                           bytes(payload))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((reading, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        await asyncio.shield(future)
        return reading.reading_id

    async def enqueue_many(self, destination: str, payloads: Iterable[tuple[bytes, int]]) -> list[str]:
        """Queue ``(payload, taken_ms)`` pairs in one transaction; returns their ids once committed."""
        items = [_Pending(destination, self.new_id(), taken, bytes(payload)) for payload, taken in payloads]
        await self._run(self._insert, items)
        self._notify({destination})
        return [item.reading_id for item in items]

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._run(self._insert, [reading for reading, _ in batch])
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
                if not isinstance(exc, Exception):
                    raise
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
            self._notify({reading.destination for reading, _ in batch})

    def _notify(self, destinations: set[str]) -> None:
        for name in destinations:
            self.arrived(name).set()

    def _insert(self, items: Sequence[_Pending]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT INTO readings (destination, reading_id, taken_ms, payload) VALUES (?, ?, ?, ?)",
                           [(r.destination, r.reading_id, r.taken_ms, r.payload) for r in items])
            grown: set[str] = set()
            for r in items:
                depth = self._depth.setdefault(r.destination, [0, 0])
                depth[0] += 1
                depth[1] += len(r.payload)
                grown.add(r.destination)
            drops = [(name, *self._trim(name)) for name in grown]
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._reload_depth()
            raise
        for name, count, reason in drops:
            if count:
                self._announce_drop(name, count, reason)

    def _trim(self, name: str) -> tuple[int, str]:
        """Drop the oldest readings of ``name`` beyond its row and byte limits (inside a transaction)."""
        limits = self.limits(name)
        rows, size = self._depth[name]
        if rows <= limits.max_rows and size <= limits.max_bytes:
            return 0, ""
        excess_rows = max(0, rows - limits.max_rows)
        excess_bytes = max(0, size - limits.max_bytes)
        last_seq, dropped, freed = None, 0, 0
        cursor = self._db.execute(
            "SELECT seq, length(payload) FROM readings WHERE destination=? ORDER BY seq", (name,))
        for seq, length in cursor:
            if dropped >= excess_rows and freed >= excess_bytes:
                break
            last_seq, dropped, freed = seq, dropped + 1, freed + int(length)
        cursor.close()
        if last_seq is None:
            return 0, ""
        self._db.execute("DELETE FROM readings WHERE destination=? AND seq<=?", (name, last_seq))
        self._count_drop(name, dropped, freed)
        reason = (f"max_rows={limits.max_rows}" if excess_rows else "") + (
            (", " if excess_rows and excess_bytes else "") + (f"max_bytes={limits.max_bytes}" if excess_bytes else ""))
        return dropped, reason

    def _count_drop(self, name: str, dropped: int, freed: int) -> None:
        self._depth[name][0] -= dropped
        self._depth[name][1] -= freed
        self._db.execute("INSERT OR IGNORE INTO destinations (name) VALUES (?)", (name,))
        self._db.execute("UPDATE destinations SET dropped = dropped + ? WHERE name=?", (dropped, name))

    def _announce_drop(self, name: str, count: int, reason: str) -> None:
        total = self._db.execute("SELECT dropped FROM destinations WHERE name=?", (name,)).fetchone()
        log.error("TELEMETRY DROPPED: %d oldest reading(s) of destination %r over its limit %s "
                  "(%d dropped so far); raise the limit or fix the destination", count, name, reason,
                  total[0] if total else count)

    def _reload_depth(self) -> None:
        self._depth = {name: [int(rows), int(size)] for name, rows, size in self._db.execute(
            "SELECT destination, count(*), coalesce(sum(length(payload)), 0) FROM readings GROUP BY destination")}

    # ---- delivery -----------------------------------------------------------------------------------
    async def head(self, destination: str, limit: int = 64, after: int = 0) -> list[Reading]:
        """The oldest ``limit`` readings of ``destination`` after seq ``after``, in queue order."""
        return await self._run(self._head, destination, limit, after)

    def _head(self, destination: str, limit: int, after: int) -> list[Reading]:
        rows = self._db.execute(
            "SELECT seq, reading_id, taken_ms, payload FROM readings WHERE destination=? AND seq>? "
            "ORDER BY seq LIMIT ?", (destination, after, limit)).fetchall()
        return [Reading(int(seq), destination, rid, int(taken), bytes(payload)) for seq, rid, taken, payload in rows]

    async def delivered(self, destination: str, seqs: Sequence[int]) -> None:
        """The receiver took these readings: forget them and note the success."""
        if seqs:
            await self._run(self._delete, destination, list(seqs), self._now_ms())

    def _delete(self, destination: str, seqs: list[int], now_ms: int) -> None:
        db = self._db
        # A lost delete (power cut) only means the reading is sent again: no fsync for it.
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            db.execute("BEGIN IMMEDIATE")
            freed = 0
            removed = 0
            for chunk in _chunks(seqs, 500):
                marks = ",".join("?" * len(chunk))
                for (length,) in db.execute(
                        f"DELETE FROM readings WHERE seq IN ({marks}) RETURNING length(payload)", chunk):
                    freed += int(length)
                    removed += 1
            db.execute("INSERT OR IGNORE INTO destinations (name) VALUES (?)", (destination,))
            db.execute("UPDATE destinations SET delivered = delivered + ?, last_success_ms = ? WHERE name=?",
                       (len(seqs), now_ms, destination))
            db.execute("COMMIT")
        finally:
            db.execute("PRAGMA synchronous=FULL")
        depth = self._depth.setdefault(destination, [0, 0])
        depth[0] -= removed
        depth[1] -= freed

    async def failed(self, destination: str, error: str) -> None:
        """A delivery attempt failed: keep the reason for ``queue status``."""
        await self._run(self._failed, destination, error[:500], self._now_ms())

    def _failed(self, destination: str, error: str, now_ms: int) -> None:
        self._db.execute("INSERT OR IGNORE INTO destinations (name) VALUES (?)", (destination,))
        self._db.execute("UPDATE destinations SET last_error=?, last_error_ms=? WHERE name=?",
                         (error, now_ms, destination))

    async def expire(self, destination: str) -> int:
        """Drop (loudly) the readings of ``destination`` older than its ``max_age``; returns how many."""
        return await self._run(self._expire, destination, self._now_ms())

    def _expire(self, destination: str, now_ms: int) -> int:
        limits = self.limits(destination)
        cutoff = now_ms - int(limits.max_age * 1000)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            count, freed = 0, 0
            for (length,) in db.execute(
                    "DELETE FROM readings WHERE destination=? AND taken_ms<? RETURNING length(payload)",
                    (destination, cutoff)):
                count += 1
                freed += int(length)
            if count:
                self._depth.setdefault(destination, [0, 0])
                self._count_drop(destination, count, freed)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if count:
            self._announce_drop(destination, count, f"max_age={limits.max_age:g} s")
        return count

    # ---- state other parts keep beside the queue (the Sigfox budget) -------------------------------
    async def get_state(self, key: str) -> str | None:
        return await self._run(self._get_state, key)

    def _get_state(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    async def set_state(self, key: str, value: str) -> None:
        """Store ``value`` durably (committed with fsync before this returns)."""
        await self._run(self._db.execute, "INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))

    # ---- status -------------------------------------------------------------------------------------
    async def status(self) -> list[DestinationStatus]:
        return await self._run(read_status, self._db)

    def depth(self, destination: str) -> int:
        return self._depth.get(destination, [0, 0])[0]

    # ---- lifecycle ----------------------------------------------------------------------------------
    async def close(self) -> None:
        if self._closed:
            return
        if self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)
        self._closed = True
        await self._run(self._db.close)
        self._executor.shutdown(wait=True)

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


def read_status(db: sqlite3.Connection) -> list[DestinationStatus]:
    """Every destination the database knows, with its depth and delivery record."""
    depth = {name: (int(rows), int(size), oldest) for name, rows, size, oldest in db.execute(
        "SELECT destination, count(*), coalesce(sum(length(payload)), 0), min(taken_ms) FROM readings "
        "GROUP BY destination")}
    known = {row[0]: row for row in db.execute(
        "SELECT name, delivered, dropped, last_success_ms, last_error, last_error_ms FROM destinations")}
    result = []
    for name in sorted(set(depth) | set(known)):
        rows, size, oldest = depth.get(name, (0, 0, None))
        _, delivered, dropped, success, error, error_ms = known.get(name, (name, 0, 0, None, None, None))
        result.append(DestinationStatus(name, rows, size, oldest, int(delivered), int(dropped), success, error,
                                        error_ms))
    return result


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
