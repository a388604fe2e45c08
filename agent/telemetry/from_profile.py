"""Telemetry set up from a device profile: the ``[sigfox]`` table becomes periodic uplinks.

The profile says which resources go into the frame; the values are read through the object tree,
so an uplink carries exactly what a server Read would see at that moment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..core.model import Value
from ..core.path import Path
from ..profiles import SigfoxProfile
from ..tree import ObjectTree
from .sigfox import SigfoxModem, SigfoxUplinks


def tree_reader(tree: ObjectTree) -> Callable[[Path], Awaitable[Value]]:
    """A ``read(path) -> value`` over the tree, for one resource (or resource instance)."""

    async def read(path: Path) -> Value:
        values = await tree.read(path)
        if len(values) != 1:
            raise ValueError(f"{path} is not a single value")
        return values[0].value

    return read


def sigfox_uplinks(profile: SigfoxProfile, tree: ObjectTree, device: str, *, simulate: bool = False
                   ) -> SigfoxUplinks:
    """Uplinks of the profile's fields through the modem on ``device`` (a serial device path).

    In simulator mode the first uplink goes out at start, so the emulator shows data at once.
    """
    modem = SigfoxModem(device=device, command_timeout=10.0 if simulate else 60.0)
    return SigfoxUplinks(modem=modem, read=tree_reader(tree), fields=profile.telemetry_fields(),
                         interval=profile.interval, send_at_start=simulate)
