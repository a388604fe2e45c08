"""What a Sigfox downlink does on the device: its 8 bytes become resource writes, or an execute.

The network hands a downlink (queued with ``POST /sigfox_devices/{id}/data``) to the uplink that asked
for one. The profile says what it means, in the same field syntax as the uplink frame: each field of
``downlink`` is unpacked (:func:`agent.telemetry.sigfox_frame.unpack_frame`) and written to its resource
through the object tree, with the checks a server Write gets; ``downlink_execute`` runs an executable
resource with the downlink's 16 hex digits as its argument. Either may be absent; a downlink nobody maps
is logged and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from ..core.errors import LwM2MError
from ..core.path import Path
from ..core.values import ResourceValue, coerce
from ..tree import ObjectTree
from .sigfox_frame import SigfoxField, SigfoxFrameError, unpack_frame

log = logging.getLogger(__name__)


def downlink_handler(tree: ObjectTree, fields: Sequence[SigfoxField], execute: Path | None
                     ) -> Callable[[bytes], Awaitable[None]]:
    """A handler for :class:`~agent.telemetry.sigfox_uplinks.SigfoxUplinks` that applies downlinks to ``tree``."""

    async def apply(data: bytes) -> None:
        if fields:
            try:
                values = unpack_frame(fields, data)
            except SigfoxFrameError as exc:
                log.error("Sigfox downlink %s does not unpack: %s", data.hex(), exc)
                return
            for field in fields:
                model, _ = tree.binding(field.path)
                value = coerce(values[field.name], model.type, field.path)
                try:
                    await tree.write(field.path, [ResourceValue(field.path, value)], replace=True)
                except LwM2MError as exc:
                    log.error("Sigfox downlink: writing %r to %s failed: %s", value, field.path,
                              exc.message or exc.code_text)
                    continue
                log.info("Sigfox downlink %s: wrote %r to %s", data.hex(), value, field.path)
        if execute is not None:
            try:
                await tree.execute(execute, data.hex().upper())
            except LwM2MError as exc:
                log.error("Sigfox downlink: executing %s failed: %s", execute, exc.message or exc.code_text)
                return
            log.info("Sigfox downlink %s: executed %s", data.hex(), execute)
        if not fields and execute is None:
            log.warning("Sigfox downlink %s received; the profile maps it to nothing", data.hex())

    return apply
