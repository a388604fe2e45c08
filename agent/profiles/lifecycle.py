"""Starting and stopping the bindings of an object tree (and the simulator a profile tree owns).

Bindings open their hardware in ``start`` (a serial port, a GPIO request, a ticker subscription)
and release it in ``close``; shared handles count their users, so each binding is started and
closed once. A binding that fails to start or close is logged and the others go on: one broken
sensor must not keep the device from registering.
"""

from __future__ import annotations

from ..tree import ObjectTree
from .extras import tree_extras


async def start_tree(tree: ObjectTree) -> None:
    """Start the simulator (if the tree has one) and every binding."""
    extras = tree_extras(tree)
    if extras is not None and extras.sim is not None:
        await extras.sim.start()
    await tree.start()


async def close_tree(tree: ObjectTree) -> None:
    """Close every binding, then the simulator the tree owns."""
    await tree.close()
    extras = tree_extras(tree)
    if extras is not None and extras.sim is not None and extras.owns_sim:
        await extras.sim.close()
        extras.sim = None
