"""``lwm2m-agent queue status``: what waits in the telemetry queue, and how each destination is doing.

Read from the queue database itself, so it answers while the agent runs (WAL lets a reader in beside the
writer) and after it stopped, even after a crash.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from .queue import DestinationStatus, queue_path, read_status


def load_status(state_dir: str | os.PathLike[str]) -> list[DestinationStatus]:
    """Every destination of the queue in ``state_dir``; FileNotFoundError when it has none."""
    path = queue_path(state_dir)
    if not path.exists():
        raise FileNotFoundError(f"no telemetry queue in {state_dir} ({path.name} is missing): the agent has not "
                                "run with telemetry and this --state-dir")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    try:
        return read_status(db)
    finally:
        db.close()


def _when(ms: int | None) -> str:
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _age(ms: int | None, now: float) -> str:
    if ms is None:
        return "-"
    seconds = max(0.0, now - ms / 1000)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def format_status(statuses: Sequence[DestinationStatus], now: float | None = None) -> str:
    """One block per destination, in words a person reads at a glance."""
    if not statuses:
        return "the telemetry queue knows no destination yet"
    now = time.time() if now is None else now
    lines = []
    for status in statuses:
        error = "none" if status.last_error is None else f"{_when(status.last_error_ms)}: {status.last_error}"
        lines += [
            f"{status.name}",
            f"  depth:        {status.depth} reading(s), {status.bytes} bytes",
            f"  oldest:       {_age(status.oldest_ms, now)}",
            f"  last success: {_when(status.last_success_ms)} ({status.delivered} delivered)",
            f"  last error:   {error}",
            f"  dropped:      {status.dropped}",
        ]
    return "\n".join(lines)
