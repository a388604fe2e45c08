"""From a loaded profile to the object tree an agent serves.

:func:`build_agent_tree` constructs every binding (serial readers, GPIO requests-to-be, commands)
and the Security (0) and Server (1) instances of the ``[server]`` table, but starts nothing: the
caller starts the tree with :func:`agent.profiles.lifecycle.start_tree` once it is ready to serve,
and closes it with :func:`~agent.profiles.lifecycle.close_tree`.

In simulator mode the ``sim:`` ports are the ptys of a :class:`~agent.simulator.devices.
SimulatedHardware` (given, or created here and then owned by the tree: ``close_tree`` closes it)
and GPIO chips are its fake chips. Outside simulator mode a missing serial port or GPIO chip
is refused here, with the profile line that names it.
"""

from __future__ import annotations

from ..client.defaults import security_instance, server_instance
from ..simulator.devices import SimulatedHardware
from ..tree import ObjectInstance, ObjectTree
from .context import HardwareContext, resolve_port
from .extras import TreeExtras, register_extras
from .factories import build_binding, build_shortcut
from .spec import Profile, ServerProfile


def add_server_objects(tree: ObjectTree, server: ServerProfile) -> None:
    """Security (0) and Server (1) instances for the profile's server and bootstrap server."""
    tree.add_object(tree.models.object(0))
    tree.add_object(tree.models.object(1), factory=None, deletable=False)
    if server.uri is not None:
        tree.add_instance(0, security_instance(
            server.uri, iid=0, short_server_id=server.short_server_id, mode=server.security_mode,
            identity=server.psk_identity or b"", secret_key=server.psk_key or b""))
        tree.add_instance(1, server_instance(server.lifetime, short_server_id=server.short_server_id,
                                             binding=server.binding))
    if server.bootstrap_uri is not None:
        iid = 1 if server.uri is not None else 0
        tree.add_instance(0, security_instance(server.bootstrap_uri, iid=iid, bootstrap=True))


def assemble_tree(profile: Profile, ctx: HardwareContext) -> ObjectTree:
    """The tree of ``profile`` with bindings from ``ctx`` (no I/O beyond what ``ctx`` allows)."""
    tree = ObjectTree(profile.models)
    add_server_objects(tree, profile.server)
    for spec in profile.instances:
        model = profile.models.object(spec.object_id)
        if spec.object_id not in tree.objects:
            # Instances stand for hardware: the server may not create or delete them.
            tree.add_object(model, factory=None, deletable=False)
        instance = build_shortcut(spec.shortcut, model, spec.instance_id, ctx) if spec.shortcut is not None \
            else ObjectInstance(spec.instance_id)
        for rid, binding_spec in spec.resources.items():
            instance.resources[rid] = build_binding(binding_spec, model.resources[rid], ctx)
        tree.add_instance(spec.object_id, instance)
    return tree


def simulated_port_kinds(profile: Profile) -> set[str]:
    """The ``sim:KIND`` devices the profile's bindings use (the Sigfox port is not a binding)."""
    kinds: set[str] = set()
    refs = []
    for spec in profile.instances:
        if spec.shortcut is not None and spec.shortcut.kind == "nmea":
            refs.append((str(spec.shortcut.value), spec.shortcut.where))
        for binding in spec.resources.values():
            if "port" in binding.params:
                refs.append((str(binding.params["port"]), binding.where.at("port")))
    for ref, where in refs:
        kind = resolve_port(ref, profile.serial_ports, where).simulated_kind
        if kind is not None:
            kinds.add(kind)
    return kinds


async def build_agent_tree(profile: Profile, *, simulate: bool, sim: SimulatedHardware | None = None) -> ObjectTree:
    """The object tree ``profile`` describes, bindings constructed but not started.

    ``simulate`` runs on simulated hardware: ``sim`` if given (the caller closes it), else a new
    one that ``close_tree`` closes. Raises ProfileError for what this machine cannot provide.
    """
    if not simulate and sim is not None:
        raise ValueError("a SimulatedHardware is only used with simulate=True")
    owns = simulate and sim is None
    if simulate and sim is None:
        sim = SimulatedHardware()
    try:
        sim_ports: dict[str, str] = {}
        if sim is not None:
            for kind in sorted(simulated_port_kinds(profile)):
                try:
                    sim_ports[kind] = await sim.serial_port(kind)
                except LookupError:
                    continue  # refused with its profile line when a binding asks for it
        ctx = HardwareContext(mode="simulate" if simulate else "real", profile_dir=profile.path.parent,
                              serial_ports=profile.serial_ports, sim=sim, sim_ports=sim_ports)
        tree = assemble_tree(profile, ctx)
    except BaseException:
        if owns and sim is not None:
            await sim.close()
        raise
    register_extras(tree, TreeExtras(sim=sim, owns_sim=owns, labels=ctx.labels))
    return tree
