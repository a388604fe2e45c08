"""Unfinished Block1 uploads (RFC 7959): reassembly with bounds on count, bytes and age.

aiocoap's ``Block1Spool`` keeps any number of transfers of any size for MAX_TRANSMIT_WAIT (93 s),
accepts a first block announcing gigabytes, and lets the ``ValueError`` of a block that leaves a
gap escape as a 5.00. Here every transfer is checked at its first block against the bounds (Size1
when the peer announces the total, else each block as it comes): 4.13 for what exceeds them, 4.08
for a block that does not continue a transfer in progress, 4.00 for a block that contradicts its
own Block1 option. A transfer untouched for ``timeout`` seconds is dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from aiocoap import Message
from aiocoap.numbers.optionnumbers import OptionNumber

from ..core.errors import BadRequest, RequestEntityIncomplete, RequestEntityTooLarge

_KEY_IGNORES = [OptionNumber.BLOCK1, OptionNumber.BLOCK2, OptionNumber.OBSERVE, OptionNumber.SIZE1]


@dataclass
class UploadLimits:
    max_size: int = 1 << 20
    max_transfers: int = 4
    max_total_bytes: int = 2 << 20
    timeout: float = 60.0


@dataclass
class _Transfer:
    first: Message
    data: bytearray = field(default_factory=bytearray)
    touched: float = 0.0


class TooLarge(RequestEntityTooLarge):
    """4.13 that tells the peer the largest body the agent takes (Size1, RFC 7959 §2.9.3)."""

    def __init__(self, message: str, max_size: int) -> None:
        super().__init__(message)
        self.max_size = max_size


class Block1Uploads:
    """The Block1 transfers in progress, keyed by peer, method and request options."""

    def __init__(self, limits: UploadLimits | None = None) -> None:
        self.limits = limits or UploadLimits()
        self._transfers: OrderedDict[object, _Transfer] = OrderedDict()
        self._bytes = 0
        self._sweep: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._transfers)

    @property
    def spooled_bytes(self) -> int:
        return self._bytes

    def feed(self, request: Message) -> Message | None:
        """Take one block: the whole request once the last block is in, else None (answer 2.31)."""
        block1 = request.opt.block1
        assert block1 is not None
        now = time.monotonic()
        self._expire(now)
        limits = self.limits
        if block1.more and len(request.payload) != block1.size:
            raise BadRequest(f"block {block1.block_number} has {len(request.payload)} bytes, "
                             f"its Block1 option says {block1.size}")
        if len(request.payload) > block1.size:
            raise BadRequest(f"block {block1.block_number} is larger than its Block1 size {block1.size}")
        end = block1.start + len(request.payload)
        size1 = request.opt.size1
        if end > limits.max_size or (size1 is not None and size1 > limits.max_size):
            raise TooLarge(f"request body over {limits.max_size} bytes", limits.max_size)
        key = (request.remote, request.code, request.get_cache_key(_KEY_IGNORES))
        if block1.block_number == 0:
            self._drop(key)
            if not block1.more:
                return request
            if len(self._transfers) >= limits.max_transfers:
                raise TooLarge(f"{limits.max_transfers} uploads already in progress", limits.max_size)
            announced = max(size1 or 0, len(request.payload))
            if self._bytes + announced > limits.max_total_bytes:
                raise TooLarge(f"uploads in progress hold {self._bytes} of {limits.max_total_bytes} bytes",
                               limits.max_size)
            transfer = _Transfer(first=request)
            self._transfers[key] = transfer
            self._schedule_sweep()
        else:
            found = self._transfers.get(key)
            if found is None:
                raise RequestEntityIncomplete(f"block {block1.block_number} continues no upload in progress")
            transfer = found
            if block1.start != len(transfer.data):
                self._drop(key)
                raise RequestEntityIncomplete(f"block {block1.block_number} starts at byte {block1.start}; "
                                              f"the upload has {len(transfer.data)}")
            if self._bytes + len(request.payload) > limits.max_total_bytes:
                self._drop(key)
                raise TooLarge(f"uploads in progress would hold over {limits.max_total_bytes} bytes",
                               limits.max_size)
        transfer.data += request.payload
        transfer.touched = now
        self._bytes += len(request.payload)
        self._transfers.move_to_end(key)
        if block1.more:
            return None
        self._drop(key)
        whole = transfer.first.copy(payload=bytes(transfer.data))
        whole.opt.block1 = block1
        whole.remote = request.remote
        return whole

    def _drop(self, key: object) -> None:
        transfer = self._transfers.pop(key, None)
        if transfer is not None:
            self._bytes -= len(transfer.data)

    def _schedule_sweep(self) -> None:
        """Abandoned uploads are let go at their time-out, not at the next block (which may never come)."""
        if self._sweep is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._sweep = loop.call_later(self.limits.timeout, self._swept)

    def _swept(self) -> None:
        self._sweep = None
        self._expire(time.monotonic())
        if self._transfers:
            self._schedule_sweep()

    def _expire(self, now: float) -> None:
        deadline = now - self.limits.timeout
        while self._transfers:
            key, oldest = next(iter(self._transfers.items()))
            if oldest.touched > deadline:
                break
            self._drop(key)
