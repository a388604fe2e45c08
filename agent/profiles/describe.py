"""The object tree as text: what ``lwm2m-agent profile check`` prints.

One line per resource: its path, name and operations from the model, then where its value comes
from (binding kind and source: ``serial_line  /dev/ttyUSB0 pattern 'H=(\\S+)'``). Trees built from
a profile carry exact labels; for other bindings (the built-in objects, a hand-made tree) the
binding's type says enough. Secret keys are never printed.
"""

from __future__ import annotations

from ..core.path import Path
from ..hardware import (
    CommandBinding,
    Constant,
    CurrentTime,
    ErrorCodes,
    FileBinding,
    ResetErrorCodes,
    SimulatedSource,
    SystemFact,
    Timezone,
    UtcOffset,
)
from ..hardware.device_actions import DeviceAction
from ..hardware.standard_objects import WithFallback
from ..tree import ObjectTree, StoredValue
from ..tree.binding import ExecuteAction, ResourceBinding
from .extras import tree_extras

_SECRET = {(0, 5)}  # Security: Secret Key


def binding_label(binding: ResourceBinding, path: Path) -> tuple[str, str]:
    """(kind, source) of a binding that no profile labelled."""
    if (path[0], path[2]) in _SECRET:
        return "value", "(secret)"
    if isinstance(binding, WithFallback):
        kind, source = binding_label(binding.primary, path)
        return kind, f"{source}, else {binding.fallback!r}"
    if isinstance(binding, SystemFact):
        return "system", binding.fact
    if isinstance(binding, DeviceAction):
        return binding.what.replace(" ", "_"), binding.describe()
    if isinstance(binding, (ErrorCodes, ResetErrorCodes)):
        return "system", "error codes"
    if isinstance(binding, (CurrentTime, UtcOffset, Timezone)):
        return "system", "clock"
    if isinstance(binding, StoredValue):
        return "value", repr(binding.value) + (" (writable)" if binding.writable else "")
    if isinstance(binding, Constant):
        return "constant", repr(binding.value)
    if isinstance(binding, SimulatedSource):
        return "simulated", type(binding).__name__
    if isinstance(binding, FileBinding):
        return "file", str(binding.path)
    if isinstance(binding, CommandBinding):
        return "command", repr(binding)
    if isinstance(binding, ExecuteAction):
        return "action", ""
    return type(binding).__name__, repr(binding)


def describe_tree(tree: ObjectTree) -> str:
    """Objects, instances and resources of ``tree``, each resource with its binding's kind and source."""
    extras = tree_extras(tree)
    labels = extras.labels if extras is not None else {}
    lines: list[str] = []
    for oid in sorted(tree.objects):
        node = tree.objects[oid]
        lines.append(f"/{oid}  {node.model.name}")
        for iid in sorted(node.instances):
            lines.append(f"  /{oid}/{iid}")
            instance = node.instances[iid]
            for rid in sorted(instance.resources):
                path = Path(oid, iid, rid)
                rmodel = node.model.resources.get(rid)
                name = rmodel.name if rmodel is not None else "?"
                ops = rmodel.operations.value if rmodel is not None else ""
                kind, source = labels.get(path) or binding_label(instance.resources[rid], path)
                lines.append(f"    {path!s:<16} {name[:28]:<28} {ops:<2}  {kind:<13} {source}".rstrip())
    return "\n".join(lines) + "\n"
