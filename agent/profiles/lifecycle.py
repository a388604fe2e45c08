"""Starting and stopping the bindings of an object tree (and the simulator a profile tree owns).

Bindings open their hardware in ``start`` (a serial port, a GPIO request, a ticker subscription)
and release it in ``close``; shared handles count their users, so each binding is started and
closed once. A binding that fails to start or close is logged and the others go on: one broken
sensor must not keep the device from registering.
"""

from __future__ import annotations

import logging

from ..tree import ObjectTree
from ..tree.binding import ResourceBinding
from .build import tree_extras

log = logging.getLogger(__name__)


def _bindings(tree: ObjectTree) -> list[ResourceBinding]:
    seen: set[int] = set()
    out: list[ResourceBinding] = []
    for node in tree.objects.values():
        for inst in node.instances.values():
            for binding in inst.resources.values():
                if id(binding) not in seen:
                    seen.add(id(binding))
                    out.append(binding)
    return out


async def start_tree(tree: ObjectTree) -> None:
    """Start the simulator (if the tree has one) and every binding."""
    extras = tree_extras(tree)
    if extras is not None and extras.sim is not None:
        await extras.sim.start()
    for binding in _bindings(tree):
        try:
            await binding.start()
        except Exception:
            log.exception("starting %r failed; it will answer 5.03", binding)


async def close_tree(tree: ObjectTree) -> None:
    """Close every binding, then the simulator the tree owns."""
    for binding in _bindings(tree):
        try:
            await binding.close()
        except Exception:
            log.exception("closing %r failed", binding)
    extras = tree_extras(tree)
    if extras is not None and extras.sim is not None and extras.owns_sim:
        await extras.sim.close()
        extras.sim = None
