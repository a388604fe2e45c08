"""LwM2M Send from the queue: readings of chosen resources pushed to the registered server (``POST /dp``).

A reading is encoded as SenML CBOR when it is taken, with its time as the SenML base time (``bt``, UNIX
seconds), so a Send that waits out a server outage still says when the values were measured. The client
sends it when it is registered with LwM2M 1.1; while it is not (registering, backing off, or fallen back
to 1.0) readings wait in the queue. A server that answers with an error gets the reading again later.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

import cbor2

from ..core.codecs import encoder_for
from ..core.formats import ContentFormat
from ..core.model import ModelRegistry, Value
from ..core.path import Path
from ..core.values import ResourceValue
from .delivery import DeliveryError, NotReady
from .queue import Reading

_BT = -3  # SenML CBOR label of the base time

PostPayload = Callable[[bytes, int], Awaitable[str]]
"""Sends an encoded payload to the server's ``/dp``; returns its response code (``"2.04"``). Raises
RuntimeError when the client cannot send now (not registered, or registered as 1.0)."""


def senml_reading(resources: Sequence[tuple[str, Path]], models: ModelRegistry, *,
                  clock: Callable[[], float] = time.time) -> Callable[[dict[str, Value]], Awaitable[bytes | None]]:
    """A sampler payload: the values as SenML CBOR records, the first one carrying the time as ``bt``."""
    encoder = encoder_for(ContentFormat.SENML_CBOR)

    async def encode(values: dict[str, Value]) -> bytes | None:
        taken = [ResourceValue(path, values[key]) for key, path in resources if key in values]
        if not taken:
            return None
        records = cbor2.loads(encoder.encode(Path(), taken, models))
        records[0] = {_BT: clock(), **records[0]}
        return bytes(cbor2.dumps(records))

    return encode


class SendTransport:
    """Delivers queued SenML CBOR readings with LwM2M Send through ``post``."""

    description = "LwM2M Send to the registered server"

    def __init__(self, post: PostPayload) -> None:
        self._post = post

    async def deliver(self, reading: Reading) -> None:
        try:
            code = await self._post(reading.payload, ContentFormat.SENML_CBOR)
        except RuntimeError as exc:  # not registered (yet), or as 1.0: wait, this is no failure of the reading
            raise NotReady(str(exc), retry_after=1.0) from None
        if not code.startswith("2."):
            raise DeliveryError(f"the server answered {code} to Send")

    async def close(self) -> None:
        return None
