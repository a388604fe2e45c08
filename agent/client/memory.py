"""Giving memory back to the system after a burst: a periodic ``malloc_trim``.

After a burst of requests (thousands of observations dropped, uploads abandoned) CPython frees its
objects, but glibc keeps the freed pages of its heaps for reuse, so the resident size of a gateway
stays at its peak for as long as the process lives. ``malloc_trim(0)`` returns them; it costs a few
milliseconds, so the agent calls it once a minute. Elsewhere than glibc it is simply not done.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def _glibc_malloc_trim() -> Callable[[], None] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0) and None


MALLOC_TRIM = _glibc_malloc_trim()


async def trim_memory_periodically(interval: float = 60.0) -> None:
    """Run until cancelled: hand freed heap pages back every ``interval`` seconds."""
    if MALLOC_TRIM is None:
        return
    while True:
        await asyncio.sleep(interval)
        with contextlib.suppress(OSError):
            MALLOC_TRIM()
