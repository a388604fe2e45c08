"""Objects, instances and the operations the server applies to them, checked against the model.

Every rule the LwM2M specification puts on an operation's target lives here, once: which levels a
Read, Write, Execute, Create or Delete may name, that the model allows the operation, that the path
exists. The CoAP layer only translates codes and content formats.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ..core.errors import BadRequest, MethodNotAllowed, NotFound, ServiceUnavailable
from ..core.model import ModelRegistry, ObjectModel, ResourceModel
from ..core.path import Path
from ..core.value_rules import check_instance, check_value, instance_rule_resources
from ..core.values import ResourceValue, coerce
from .binding import ResourceBinding, ResourceContent, StoredValue

log = logging.getLogger(__name__)


@dataclass
class ObjectInstance:
    id: int
    resources: dict[int, ResourceBinding] = field(default_factory=dict)

    def stored(self, resource_id: int) -> ResourceContent | None:
        """The value of a resource held in memory (server accounts, settings), else None.

        The agent reads its own Security and Server settings this way, without going through a
        binding's async read (those resources are always :class:`StoredValue`).
        """
        binding = self.resources.get(resource_id)
        return binding.value if isinstance(binding, StoredValue) else None


InstanceFactory = Callable[[ObjectModel, int, dict[int, ResourceContent]], ObjectInstance]


def stored_instance(model: ObjectModel, instance_id: int, values: dict[int, ResourceContent]) -> ObjectInstance:
    """The default way to create an instance: every given resource is held in memory."""
    resources: dict[int, ResourceBinding] = {}
    for rid, value in values.items():
        resources[rid] = StoredValue(value, writable=model.resources[rid].operations.writable)
    return ObjectInstance(instance_id, resources)


@dataclass
class ObjectNode:
    model: ObjectModel
    instances: dict[int, ObjectInstance] = field(default_factory=dict)
    factory: InstanceFactory | None = stored_instance
    deletable: bool = True


class ObjectTree:
    """The objects an agent serves, with the operations of the device-management interface."""

    def __init__(self, models: ModelRegistry) -> None:
        self.models = models
        self.objects: dict[int, ObjectNode] = {}
        self._structure_listeners: list[Callable[[], None]] = []

    # ---- building -------------------------------------------------------------------------
    def add_object(self, model: ObjectModel, *, factory: InstanceFactory | None = stored_instance,
                   deletable: bool = True) -> ObjectNode:
        self.models.add(model)
        node = self.objects.get(model.id)
        if node is None:
            node = ObjectNode(model, factory=factory, deletable=deletable)
            self.objects[model.id] = node
            self._structure_changed()
        return node

    def add_instance(self, object_id: int, instance: ObjectInstance) -> None:
        node = self._object(object_id)
        node.instances[instance.id] = instance
        self._structure_changed()

    def add_structure_listener(self, listener: Callable[[], None]) -> None:
        """Called when objects or instances appear or go (the registration must be updated)."""
        self._structure_listeners.append(listener)

    def _structure_changed(self) -> None:
        for listener in list(self._structure_listeners):
            listener()

    # ---- lifecycle ------------------------------------------------------------------------
    def bindings(self) -> Iterator[ResourceBinding]:
        """Every binding once (a binding shared by several resources is listed once)."""
        seen: set[int] = set()
        for node in self.objects.values():
            for inst in node.instances.values():
                for binding in inst.resources.values():
                    if id(binding) not in seen:
                        seen.add(id(binding))
                        yield binding

    async def start(self) -> None:
        """Start every binding (open ports, start simulated sources); call once before serving.

        A binding that fails to start is logged and the others go on: one broken sensor must not
        keep the device from registering (that resource answers 5.03).
        """
        for binding in self.bindings():
            try:
                await binding.start()
            except Exception:
                log.exception("starting %r failed; it will answer 5.03", binding)

    async def close(self) -> None:
        for binding in self.bindings():
            try:
                await binding.close()
            except Exception:
                log.exception("closing %r failed", binding)

    # ---- lookup ---------------------------------------------------------------------------
    def _object(self, object_id: int) -> ObjectNode:
        node = self.objects.get(object_id)
        if node is None:
            raise NotFound(f"object {object_id} is not served")
        return node

    def instance(self, path: Path) -> ObjectInstance:
        node = self._object(path[0])
        inst = node.instances.get(path[1])
        if inst is None:
            raise NotFound(f"no instance /{path[0]}/{path[1]}")
        return inst

    def binding(self, path: Path) -> tuple[ResourceModel, ResourceBinding]:
        """The model and binding of the resource a path of level 3 or 4 names."""
        inst = self.instance(path)
        model = self.objects[path[0]].model.resources.get(path[2])
        binding = inst.resources.get(path[2])
        if model is None or binding is None:
            raise NotFound(f"no resource /{path[0]}/{path[1]}/{path[2]}")
        return model, binding

    def exists(self, path: Path) -> bool:
        try:
            if len(path) == 1:
                self._object(path[0])
            elif len(path) == 2:
                self.instance(path)
            elif len(path) >= 3:
                self.binding(path)
            return True
        except NotFound:
            return False

    def resource_paths(self, path: Path) -> Iterator[Path]:
        """Every resource at or below ``path`` (for Discover and attribute handling)."""
        if not path:
            for oid in sorted(self.objects):
                yield from self.resource_paths(Path(oid))
            return
        node = self._object(path[0])
        if len(path) == 1:
            for iid in sorted(node.instances):
                yield from self.resource_paths(Path(path[0], iid))
            return
        inst = self.instance(path)
        if len(path) == 2:
            for rid in sorted(inst.resources):
                if rid in node.model.resources:
                    yield Path(path[0], path[1], rid)
            return
        self.binding(path)
        yield Path(*path[:3])

    # ---- read -----------------------------------------------------------------------------
    async def read(self, path: Path) -> list[ResourceValue]:
        """Read an object, instance, resource or resource instance; only readable resources."""
        if not path:
            raise MethodNotAllowed("read of the root is not allowed; name an object")
        out: list[ResourceValue] = []
        if len(path) <= 2:
            for rpath in self.resource_paths(path):
                model, binding = self.binding(rpath)
                if model.operations.readable:
                    try:
                        await self._read_resource(rpath, model, binding, out)
                    except ServiceUnavailable:
                        # Hardware that is not there (no battery, a silent sensor) leaves a gap in
                        # an instance read; read on its own, the resource answers 5.03 with why.
                        continue
            return out
        model, binding = self.binding(path)
        if not model.operations.readable:
            raise MethodNotAllowed(f"resource {Path(*path[:3])} is not readable")
        await self._read_resource(Path(*path[:3]), model, binding, out)
        if len(path) == 4:
            out = [rv for rv in out if rv.path == path]
            if not out:
                raise NotFound(f"no resource instance {path}")
        return out

    @staticmethod
    async def _read_resource(path: Path, model: ResourceModel, binding: ResourceBinding,
                             out: list[ResourceValue]) -> None:
        content = await binding.read()
        if isinstance(content, dict):
            for riid in sorted(content):
                out.append(ResourceValue(path.child(riid), content[riid]))
        else:
            out.append(ResourceValue(path, content))

    async def read_composite(self, paths: list[Path]) -> list[ResourceValue]:
        """Read several paths at once; a path that does not exist is left out (LwM2M 1.1 §6.3.8)."""
        values: list[ResourceValue] = []
        for p in paths:
            try:
                values.extend(await self.read(p))
            except NotFound:
                continue
        return values

    # ---- write ----------------------------------------------------------------------------
    async def write(self, path: Path, values: Iterable[ResourceValue], *, replace: bool,
                    bootstrap: bool = False) -> None:
        """Write decoded values under ``path`` (an instance, a resource or a resource instance).

        ``replace`` is the PUT semantics: a multiple resource takes exactly the given instances.
        ``bootstrap`` is Bootstrap-Write: operations are not checked and instances are created.
        """
        if len(path) < 2 and not bootstrap:
            raise MethodNotAllowed("write needs an instance, resource or resource-instance path")
        grouped: dict[Path, dict[int, ResourceContent]] = {}
        singles: dict[Path, ResourceContent] = {}
        for rv in values:
            if not rv.path.startswith(path) or len(rv.path) < 3:
                raise BadRequest(f"value for {rv.path} is outside the target {path}")
            rpath = Path(*rv.path[:3])
            rmodel = self.models.resource(rpath)
            if rmodel is None:
                raise NotFound(f"no resource {rpath} in the object model")
            value = coerce(rv.value, rmodel.type, rv.path)
            if len(rv.path) == 4:
                if not rmodel.multiple:
                    raise BadRequest(f"{rpath} is a single-instance resource")
                grouped.setdefault(rpath, {})[rv.path[3]] = value
            else:
                if rmodel.multiple:
                    raise BadRequest(f"{rpath} is a multiple-instance resource; send its instances")
                singles[rpath] = value
        # Check everything before changing anything: a write is all or nothing.
        targets: list[tuple[Path, ResourceContent]] = list(singles.items())
        for rpath, items in grouped.items():
            if len(path) == 4 or not replace:
                merged: dict[int, ResourceContent] = {}
                if self.exists(rpath):
                    current = await self.binding(rpath)[1].read()
                    if isinstance(current, dict):
                        merged.update(current)
                merged.update(items)
                targets.append((rpath, merged))  # type: ignore[arg-type]
            else:
                targets.append((rpath, items))  # type: ignore[arg-type]
        await self._check_rules(targets)
        if bootstrap:
            await self._bootstrap_write(targets)
            return
        if len(path) >= 3 and not targets and replace:
            raise BadRequest(f"no value for {path} in the payload")
        for rpath, _ in targets:
            rmodel, _binding = self.binding(rpath)
            if not rmodel.operations.writable:
                raise MethodNotAllowed(f"resource {rpath} is not writable")
        for rpath, content in targets:
            await self.binding(rpath)[1].write(content)

    async def _check_rules(self, targets: list[tuple[Path, ResourceContent]]) -> None:
        """The model's ranges and the specification's rules, on every value, before anything changes."""
        by_instance: dict[Path, dict[int, object]] = {}
        for rpath, content in targets:
            rmodel = self.models.resource(rpath)
            if rmodel is None:
                continue
            for item_path, item in (((rpath.child(i), v) for i, v in content.items())
                                    if isinstance(content, dict) else ((rpath, content),)):
                check_value(item_path, rmodel, item)
            by_instance.setdefault(Path(*rpath[:2]), {})[rpath[2]] = content
        for ipath, changes in by_instance.items():
            needed = [rid for rid in instance_rule_resources(ipath[0]) if rid not in changes]
            for rid in needed:
                if self.exists(ipath.child(rid)):
                    changes[rid] = await self.binding(ipath.child(rid))[1].read()
            check_instance(ipath[0], changes, ipath)

    async def _bootstrap_write(self, targets: list[tuple[Path, ResourceContent]]) -> None:
        for rpath, content in targets:
            node = self._object(rpath[0])
            inst = node.instances.get(rpath[1])
            if inst is None:
                inst = ObjectInstance(rpath[1])
                node.instances[rpath[1]] = inst
                self._structure_changed()
            binding = inst.resources.get(rpath[2])
            if isinstance(binding, StoredValue):
                binding.set(content)
            elif binding is None:
                writable = node.model.resources[rpath[2]].operations.writable
                inst.resources[rpath[2]] = StoredValue(content, writable=writable)
            else:
                await binding.write(content)

    # ---- execute / create / delete ------------------------------------------------------------
    async def execute(self, path: Path, arguments: str) -> None:
        if len(path) != 3:
            raise MethodNotAllowed("execute needs a resource path")
        model, binding = self.binding(path)
        if not model.operations.executable:
            raise MethodNotAllowed(f"resource {path} is not executable")
        await binding.execute(arguments)

    async def create(self, path: Path, values: list[ResourceValue], *, instance_id: int | None = None) -> int:
        """Create an instance of the object ``path`` names; returns the new instance id.

        ``instance_id`` None lets the agent choose the lowest free id; the values' own instance ids
        are then ignored (only their resource ids count).
        """
        if len(path) != 1:
            raise MethodNotAllowed("create needs an object path")
        node = self._object(path[0])
        if node.factory is None:
            raise MethodNotAllowed(f"object {path[0]} does not allow create")
        if instance_id is not None:
            iid = instance_id
            if iid in node.instances:
                raise BadRequest(f"instance /{path[0]}/{iid} already exists")
        else:
            iid = next(i for i in range(65535) if i not in node.instances)
        if not node.model.multiple and node.instances:
            raise BadRequest(f"object {path[0]} is single-instance and has its instance")
        content: dict[int, ResourceContent] = {}
        for rv in values:
            if len(rv.path) < 3:
                continue
            rmodel = node.model.resources.get(rv.path[2])
            if rmodel is None:
                raise NotFound(f"no resource {rv.path[2]} in object {path[0]}")
            value = coerce(rv.value, rmodel.type, rv.path)
            if len(rv.path) == 4:
                existing = content.setdefault(rv.path[2], {})
                assert isinstance(existing, dict)
                existing[rv.path[3]] = value
            else:
                content[rv.path[2]] = value
        missing = [
            r.id for r in node.model.resources.values()
            if r.mandatory and r.operations.writable and r.id not in content
        ]
        if missing:
            raise BadRequest(f"create of object {path[0]} misses mandatory resources {missing}")
        node.instances[iid] = node.factory(node.model, iid, content)
        self._structure_changed()
        return iid

    async def delete(self, path: Path, *, bootstrap: bool = False) -> None:
        """Delete an instance (or, in bootstrap, an object's instances or everything)."""
        if bootstrap and len(path) <= 1:
            # Delete-all removes the server accounts (Security, Server), never the bootstrap
            # server's own account, and leaves the objects bound to hardware alone (as Leshan does).
            targets = [path[0]] if path else [0, 1]
            for oid in targets:
                node = self._object(oid) if path else self.objects.get(oid)
                if node is None:
                    continue
                node.instances = {i: inst for i, inst in node.instances.items()
                                  if oid == 0 and _is_bootstrap_security(inst)}
            self._structure_changed()
            return
        if len(path) != 2:
            raise MethodNotAllowed("delete needs an instance path")
        node = self._object(path[0])
        self.instance(path)
        if not node.deletable and not bootstrap:
            raise MethodNotAllowed(f"instances of object {path[0]} cannot be deleted")
        del node.instances[path[1]]
        self._structure_changed()


def _is_bootstrap_security(inst: ObjectInstance) -> bool:
    return inst.stored(1) is True
