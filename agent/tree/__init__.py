"""The object tree: objects, instances and the resource bindings behind them.

The tree knows nothing of CoAP. Request handlers in ``agent.client`` walk it; profiles and the
default object set build it; hardware backends plug in as :class:`~agent.tree.binding.ResourceBinding`.
"""

from .binding import ResourceBinding, StoredValue
from .tree import ObjectInstance, ObjectNode, ObjectTree

__all__ = ["ObjectInstance", "ObjectNode", "ObjectTree", "ResourceBinding", "StoredValue"]
