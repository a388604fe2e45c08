"""The parts of the object tree that belong to the servers, as a JSON document.

A profile rebuilds the tree at every start, but some of it was set by a server and must survive:
the accounts a bootstrap server wrote (Security and Server instances), the values a server wrote
(the lifetime, a writable setting) and the instances it created. A :class:`TreeSnapshot` takes
those from a tree and puts them back into a freshly built one. It does no I/O: the client writes it
through :class:`~agent.state.directory.StateDirectory`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..core.model import ObjectLink
from ..core.path import Path
from ..tree import ObjectInstance, ObjectTree, StoredValue
from ..tree.binding import ResourceBinding, ResourceContent

SNAPSHOT_VERSION = 1
ACCOUNT_OBJECTS = (0, 1)


def encode_value(value: object) -> object:
    """A resource value as JSON: bytes, object links and multiple resources get a tagged form."""
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    if isinstance(value, ObjectLink):
        return {"objlnk": str(value)}
    if isinstance(value, dict):
        return {"multi": {str(k): encode_value(v) for k, v in value.items()}}
    return value


def decode_value(value: object) -> ResourceContent:
    if isinstance(value, dict):
        if "b64" in value:
            return base64.b64decode(str(value["b64"]), validate=True)
        if "objlnk" in value:
            return ObjectLink.parse(str(value["objlnk"]))
        if "multi" in value and isinstance(value["multi"], dict):
            return {int(k): decode_value(v) for k, v in value["multi"].items()}  # type: ignore[misc]
        raise ValueError(f"unknown tagged value {sorted(value)}")
    if value is None or isinstance(value, list):
        raise ValueError(f"{value!r} is not a resource value")
    return value  # type: ignore[return-value]


def _stored_values(instance: ObjectInstance) -> dict[int, ResourceContent]:
    return {rid: b.value for rid, b in instance.resources.items() if isinstance(b, StoredValue)}


@dataclass
class TreeSnapshot:
    """What servers set in a tree; ``server_uri`` is the DM server the values belong to."""

    server_uri: str = ""
    bootstrapped: bool = False
    accounts: dict[int, dict[int, dict[int, ResourceContent]]] = field(default_factory=dict)
    created: dict[Path, dict[int, ResourceContent]] = field(default_factory=dict)
    written: dict[Path, ResourceContent] = field(default_factory=dict)

    def __repr__(self) -> str:  # accounts hold the PSK
        return (f"TreeSnapshot(server_uri={self.server_uri!r}, bootstrapped={self.bootstrapped}, "
                f"created={sorted(map(str, self.created))}, written={sorted(map(str, self.written))})")

    @classmethod
    def take(cls, tree: ObjectTree, *, server_uri: str, bootstrapped: bool, created: Iterable[Path] = (),
             written: Iterable[Path] = (), bound_values: dict[Path, ResourceContent] | None = None) -> TreeSnapshot:
        """``bound_values``: what a server wrote to resources backed by something other than a stored
        value (a system setting, an output), as read back after the write."""
        snap = cls(server_uri=server_uri, bootstrapped=bootstrapped)
        if bootstrapped:
            for oid in ACCOUNT_OBJECTS:
                node = tree.objects.get(oid)
                if node is not None:
                    snap.accounts[oid] = {iid: _stored_values(inst) for iid, inst in node.instances.items()}
        for path in created:
            node = tree.objects.get(path[0])
            if node is not None and path[1] in node.instances:
                snap.created[path] = _stored_values(node.instances[path[1]])
        for path in written:
            if path[0] == 0:
                continue  # the Security object is the bootstrap server's, kept with the accounts
            node = tree.objects.get(path[0])
            inst = node.instances.get(path[1]) if node is not None else None
            binding = inst.resources.get(path[2]) if inst is not None else None
            if isinstance(binding, StoredValue):
                snap.written[path] = binding.value
            elif bound_values is not None and path in bound_values:
                snap.written[path] = bound_values[path]
        return snap

    # ---- JSON --------------------------------------------------------------------------------
    def to_json(self) -> dict[str, object]:
        return {
            "version": SNAPSHOT_VERSION,
            "server_uri": self.server_uri,
            "bootstrapped": self.bootstrapped,
            "accounts": {str(oid): {str(iid): {str(rid): encode_value(v) for rid, v in res.items()}
                                    for iid, res in insts.items()} for oid, insts in self.accounts.items()},
            "created": {str(p): {str(rid): encode_value(v) for rid, v in res.items()}
                        for p, res in self.created.items()},
            "written": {str(p): encode_value(v) for p, v in self.written.items()},
        }

    @classmethod
    def from_json(cls, data: object) -> TreeSnapshot:
        """The snapshot in ``data``; ValueError (with what is wrong) for anything else."""
        if not isinstance(data, dict) or data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"not a version {SNAPSHOT_VERSION} tree snapshot")
        try:
            snap = cls(server_uri=str(data.get("server_uri", "")), bootstrapped=bool(data.get("bootstrapped")))
            for oid, insts in dict(data.get("accounts", {})).items():
                if int(oid) not in ACCOUNT_OBJECTS:
                    raise ValueError(f"object {oid} is not an account object")
                snap.accounts[int(oid)] = {int(iid): {int(rid): decode_value(v) for rid, v in dict(res).items()}
                                           for iid, res in dict(insts).items()}
            for text, res in dict(data.get("created", {})).items():
                path = Path.parse(text)
                if len(path) != 2:
                    raise ValueError(f"created {text} is not an instance path")
                snap.created[path] = {int(rid): decode_value(v) for rid, v in dict(res).items()}
            for text, value in dict(data.get("written", {})).items():
                path = Path.parse(text)
                if len(path) != 3:
                    raise ValueError(f"written {text} is not a resource path")
                snap.written[path] = decode_value(value)
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"malformed tree snapshot ({exc})") from None
        return snap

    # ---- back into a tree ------------------------------------------------------------------------
    def restore_accounts(self, tree: ObjectTree) -> bool:
        """Put the bootstrapped Security and Server instances back; False when there are none."""
        if not self.bootstrapped or not self.accounts:
            return False
        for oid, insts in self.accounts.items():
            node = tree.objects.get(oid)
            if node is None:
                continue
            restored: dict[int, ObjectInstance] = {}
            for iid, values in insts.items():
                resources: dict[int, ResourceBinding] = {
                    rid: StoredValue(v, writable=_writable(tree, oid, rid)) for rid, v in values.items()
                }
                restored[iid] = ObjectInstance(iid, resources)
            node.instances = restored
        return True

    def bound_writes(self, tree: ObjectTree) -> list[tuple[Path, ResourceBinding, ResourceContent]]:
        """The written values whose resource is not a stored value: the caller writes them (I/O)."""
        out = []
        for path, value in self.written.items():
            node = tree.objects.get(path[0])
            inst = node.instances.get(path[1]) if node is not None else None
            binding = inst.resources.get(path[2]) if inst is not None else None
            if binding is not None and not isinstance(binding, StoredValue) and _writable(tree, path[0], path[2]):
                out.append((path, binding, value))
        return out

    def restore_values(self, tree: ObjectTree) -> tuple[list[Path], list[Path]]:
        """Re-create created instances and re-apply written values; returns the paths that took."""
        created: list[Path] = []
        for path, values in self.created.items():
            node = tree.objects.get(path[0])
            if node is None or node.factory is None or path[1] in node.instances:
                continue
            known = {rid: v for rid, v in values.items() if rid in node.model.resources}
            tree.add_instance(path[0], node.factory(node.model, path[1], known))
            created.append(path)
        written: list[Path] = []
        for path, value in self.written.items():
            node = tree.objects.get(path[0])
            inst = node.instances.get(path[1]) if node is not None else None
            binding = inst.resources.get(path[2]) if inst is not None else None
            if isinstance(binding, StoredValue) and (binding.writable or path[0] == 1):
                binding.set(value)
                written.append(path)
        return created, written


def _writable(tree: ObjectTree, oid: int, rid: int) -> bool:
    resource = tree.models.object(oid).resources.get(rid)
    return resource is not None and resource.operations.writable
