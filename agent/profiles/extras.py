"""What a profile-built tree carries besides its objects: its simulator and its bindings' labels.

Kept apart from ``build`` so that starting and stopping a tree (``lifecycle``) -- which every agent
does, with a profile or not -- needs none of the hardware factories.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.path import Path as LwPath
from ..tree import ObjectTree

if TYPE_CHECKING:
    from ..simulator.devices import SimulatedHardware


@dataclass
class TreeExtras:
    """What a profile-built tree carries besides its objects: the simulator and binding labels."""

    sim: SimulatedHardware | None = None
    owns_sim: bool = False
    labels: dict[LwPath, tuple[str, str]] = field(default_factory=dict)


_extras: weakref.WeakKeyDictionary[ObjectTree, TreeExtras] = weakref.WeakKeyDictionary()


def tree_extras(tree: ObjectTree) -> TreeExtras | None:
    return _extras.get(tree)


def simulated_hardware(tree: ObjectTree) -> SimulatedHardware | None:
    """The simulator behind a tree built in simulator mode (to press its buttons, feed its GPS)."""
    extras = _extras.get(tree)
    return extras.sim if extras is not None else None


def register_extras(tree: ObjectTree, extras: TreeExtras) -> None:
    _extras[tree] = extras
