"""From a checked binding spec to the hardware backend that serves it.

One function per binding kind turns a resource's table into an ``agent.hardware`` binding, and one
per whole-instance shortcut (``system = "device"``, ``nmea = "sim:gps"``, ``gpio_input = {...}``)
into an :class:`~agent.tree.ObjectInstance`. The same code runs when a profile is loaded (a dry run
that constructs every binding to catch bad arguments) and when the tree is built for real; the
:class:`~agent.profiles.context.HardwareContext` says which. A ``HardwareConfigError`` from a
constructor becomes a ProfileError on the line of the key it is about.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.model import ObjectModel, ResourceModel
from ..core.path import Path as LwPath
from ..hardware import (
    CommandBinding,
    Constant,
    Counter,
    Cycle,
    ExecutableFile,
    FactoryReset,
    FileBinding,
    GpioCounterReset,
    GpioInput,
    GpioOutput,
    HardwareConfigError,
    NmeaField,
    RandomWalk,
    Reboot,
    SerialLineValue,
    SerialQuery,
    SimulatedSource,
    SineWave,
    SystemFact,
    Toggle,
    file_tree_binding,
)
from ..hardware.files import replace_file_atomically
from ..hardware.standard_objects import connectivity_instance, cpu_temperature_instance, device_instance
from ..tree import ObjectInstance, StoredValue
from ..tree.binding import ResourceBinding
from .context import HardwareContext
from .errors import Where
from .kinds import GPIO_INPUT_FIELDS_BY_ID, NMEA_FIELDS_BY_ID
from .spec import BindingSpec, ShortcutSpec
from .values import toml_to_value

Built = tuple[ResourceBinding, str]  # the binding and a one-line description of its source
# Constructor arguments that are not profile keys, and the key a problem with them is about.
_FIELD_OF_ARGUMENT = {"rtype": "kind", "port": "port", "device": "port", "gpio": "line", "action": "command"}

_SOURCES: dict[str, Callable[..., SimulatedSource]] = {
    "random_walk": RandomWalk, "sine": SineWave, "counter": Counter, "toggle": Toggle, "cycle": Cycle,
}


def _options(params: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: params[name] for name in names if name in params}


def _system(spec: BindingSpec, model: ResourceModel, ctx: HardwareContext) -> Built:
    p = spec.params
    options = _options(p, "interface", "thermal_zone", "poll_interval", "root")
    if "modem_command" in p:
        options["modem_command"] = tuple(p["modem_command"])
    binding = SystemFact(fact=str(p["fact"]), rtype=model.type, **options)
    return binding, f"fact {p['fact']}"


def _selector(p: dict[str, object]) -> str:
    if "pattern" in p:
        return f" pattern {p['pattern']!r}" + (f" field {p['field']}" if "field" in p else "")
    return f" field {p['field']}" if "field" in p else ""


def _serial_line(spec: BindingSpec, model: ResourceModel, ctx: HardwareContext) -> Built:
    p = spec.params
    port = ctx.serial_reader(str(p["port"]), spec.where.at("port"))
    binding = SerialLineValue(port=port, rtype=model.type,
                              **_options(p, "pattern", "field", "separator", "max_age"))
    return binding, ctx.port_label(str(p["port"]), spec.where.at("port")) + _selector(p)


def _nmea_field(spec: BindingSpec, model: ResourceModel) -> str:
    field = spec.params.get("field", NMEA_FIELDS_BY_ID.get(model.id) if spec.object_id == 6 else None)
    assert isinstance(field, str), "the loader requires field outside object 6"
    return field


def _nmea(spec: BindingSpec, model: ResourceModel, ctx: HardwareContext) -> Built:
    p = spec.params
    field = _nmea_field(spec, model)
    port = ctx.serial_reader(str(p["port"]), spec.where.at("port"))
    return NmeaField(port=port, field=field, rtype=model.type), \
        f"{ctx.port_label(str(p['port']), spec.where.at('port'))} {field}"


def _serial_query(spec: BindingSpec, model: ResourceModel, ctx: HardwareContext) -> Built:
    p = spec.params
    port = ctx.serial_reader(str(p["port"]), spec.where.at("port"))
    binding = SerialQuery(port=port, query=str(p["query"]), rtype=model.type,
                          **_options(p, "pattern", "field", "separator", "terminator", "timeout", "poll_interval"))
    return binding, f"{ctx.port_label(str(p['port']), spec.where.at('port'))} query {p['query']!r}{_selector(p)}"


def gpio_input_options(p: dict[str, Any]) -> dict[str, Any]:
    return _options(p, "active_low", "bias", "debounce_ms")


def _gpio_input(spec: BindingSpec, model: ResourceModel, ctx: HardwareContext) -> Built:
    p = spec.params
    field = str(p.get("field", GPIO_INPUT_FIELDS_BY_ID.get(model.id, "state")))
    line = p["line"]
    assert isinstance(line, (int, str))
    gpio = ctx.gpio_input_line(str(p["chip"]), line, gpio_input_options(p), spec.where)
    label = f"{p['chip']} line {line} {field}"
    if field == "counter_reset":
        return GpioCounterReset(gpio=gpio), label
    return GpioInput(gpio=gpio, field=field), label


def _gpio_output(spec: BindingSpec, model: ResourceModel, ctx: HardwareContext) -> Built:
    p = spec.params
    line = p["line"]
    assert isinstance(line, (int, str))
    chip = ctx.claim_output(str(p["chip"]), line, spec.where)
    binding = GpioOutput(chip=chip, line=line, **_options(p, "active_low", "initial"))
    return binding, f"{p['chip']} line {line}"


def _file(spec: BindingSpec, model: ResourceModel, ctx: HardwareContext) -> Built:
    p = spec.params
    path = ctx.file_path(str(p["path"]), spec.where.at("path"))
    if model.operations.executable:
        return ExecutableFile(path=path, **_options(p, "timeout")), f"runs {path}"
    hooks: dict[str, Any] = {key: ctx.file_path(str(p[key]), spec.where.at(key))
                             for key in ("read_hook", "write_hook") if key in p}
    if "initial" in p and ctx.mode != "dry" and not os.path.exists(path):
        value = toml_to_value(p["initial"], model.type, spec.where.at("initial"))
        data = value if isinstance(value, bytes) else f"{value}\n".encode()
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            replace_file_atomically(Path(path), data)
        except OSError as exc:
            raise spec.where.at("path").error(f"cannot create {path}: {exc.strerror or exc}",
                                              "check the folder exists and the agent may write there") from None
    binding = FileBinding(path=path, rtype=model.type, writable=model.operations.writable, **hooks,
                          **_options(p, "hook_timeout", "poll_interval"))
    return binding, path + "".join(f" {key} {value}" for key, value in hooks.items())


def _command(spec: BindingSpec, model: ResourceModel, ctx: HardwareContext) -> Built:
    p = spec.params
    commands: dict[str, Any] = {key: tuple(p[key]) for key in ("read_command", "write_command", "execute_command")
                if key in p}
    binding = CommandBinding(rtype=model.type, multiple=model.multiple, **commands,
                             **_options(p, "pattern", "value_via", "timeout", "poll_interval"))
    label = "; ".join(f"{key.split('_')[0]}: {' '.join(argv)}" for key, argv in commands.items())
    return binding, label


def _constant(spec: BindingSpec, model: ResourceModel, ctx: HardwareContext) -> Built:
    value = spec.params["value"]
    return Constant(value, rtype=model.type), repr(value)


def _value(spec: BindingSpec, model: ResourceModel, ctx: HardwareContext) -> Built:
    value = spec.params["value"]
    writable = model.operations.writable
    return StoredValue(value, writable=writable), repr(value) + (" (writable)" if writable else "")


def _simulated(spec: BindingSpec, model: ResourceModel, ctx: HardwareContext) -> Built:
    p = dict(spec.params)
    source = str(p.pop("source"))
    if source == "cycle":
        choices = p["choices"]
        assert isinstance(choices, list)
        p["choices"] = [toml_to_value(c, model.type, spec.where.at("choices", i)) for i, c in enumerate(choices)]
    if source != "toggle":
        p["rtype"] = model.type
    binding = _SOURCES[source](**p)
    settings = ", ".join(f"{k} {v}" for k, v in spec.params.items() if k not in ("source", "choices"))
    return binding, source + (f" ({settings})" if settings else "")


def _action(spec: BindingSpec, model: ResourceModel, ctx: HardwareContext) -> Built:
    p = spec.params
    cls = Reboot if spec.kind == "reboot" else FactoryReset
    options = _options(p, "delay", "timeout")
    if "command" in p:
        options["action"] = tuple(p["command"])
    binding = cls(simulate=ctx.simulate, **options)
    return binding, binding.describe()


_FACTORIES: dict[str, Callable[[BindingSpec, ResourceModel, HardwareContext], Built]] = {
    "system": _system, "serial_line": _serial_line, "nmea": _nmea, "serial_query": _serial_query,
    "gpio_input": _gpio_input, "gpio_output": _gpio_output, "file": _file, "command": _command,
    "constant": _constant, "value": _value, "simulated": _simulated, "reboot": _action, "factory_reset": _action,
}


def _config_error(exc: HardwareConfigError, params: dict[str, object], where: Where) -> Exception:
    key = exc.field if exc.field in params else _FIELD_OF_ARGUMENT.get(exc.field, "kind")
    if key == "kind" and "source" in params:
        key = "source"
    if key == "kind" and "fact" in params:
        key = "fact"
    return where.at(key).error(exc.reason, exc.fix)


def build_binding(spec: BindingSpec, model: ResourceModel, ctx: HardwareContext) -> ResourceBinding:
    """The binding ``spec`` describes; ProfileError when its arguments cannot work."""
    try:
        binding, source = _FACTORIES[spec.kind](spec, model, ctx)
    except HardwareConfigError as exc:
        raise _config_error(exc, spec.params, spec.where) from None
    ctx.labels[LwPath(spec.object_id, spec.instance_id, spec.resource_id)] = (spec.kind, source)
    return binding


# ---- whole-instance shortcuts -------------------------------------------------------------------------

def shortcut_resource_ids(shortcut: ShortcutSpec, model: ObjectModel) -> set[int]:
    """The resources a shortcut fills, so the loader can check mandatory ones and overrides."""
    from ..hardware.standard_objects import CONNECTIVITY_FACTS, DEVICE_FACTS

    if shortcut.kind == "system":
        ids = {"device": set(DEVICE_FACTS) | {4, 5, 11, 12, 13, 14, 15, 16, 17},
               "connectivity": set(CONNECTIVITY_FACTS), "cpu_temperature": {5700, 5701}}[str(shortcut.value)]
    elif shortcut.kind == "nmea":
        ids = set(NMEA_FIELDS_BY_ID)
    elif shortcut.kind == "gpio_input":
        ids = set(GPIO_INPUT_FIELDS_BY_ID)
    elif shortcut.kind == "gpio_output":
        ids = {5850} if 5850 in model.resources else {5550}
    else:
        ids = set(model.resources)
    return ids & set(model.resources)


def build_shortcut(shortcut: ShortcutSpec, model: ObjectModel, iid: int, ctx: HardwareContext) -> ObjectInstance:
    """The instance a shortcut describes (resources not in ``model`` left out)."""
    o = shortcut.options
    where = shortcut.where
    try:
        instance = _shortcut(shortcut, model, iid, ctx)
    except HardwareConfigError as exc:
        raise _config_error(exc, o, where) from None
    instance.resources = {rid: b for rid, b in instance.resources.items() if rid in model.resources}
    return instance


def _shortcut(shortcut: ShortcutSpec, model: ObjectModel, iid: int, ctx: HardwareContext) -> ObjectInstance:
    o, value, where = shortcut.options, shortcut.value, shortcut.where
    if shortcut.kind == "system":
        root = str(o.get("root", "/"))
        if value == "device":
            actions: dict[str, Any] = {}
            if "reboot_command" in o:
                actions["reboot_action"] = tuple(o["reboot_command"])
            if "factory_reset_command" in o:
                actions["factory_reset_action"] = tuple(o["factory_reset_command"])
            return device_instance(simulate=ctx.simulate, root=root, iid=iid, **actions)
        if value == "connectivity":
            return connectivity_instance(root=root, iid=iid, interface=o.get("interface"))
        return cpu_temperature_instance(root=root, iid=iid, **_options(o, "poll_interval", "thermal_zone"))
    if shortcut.kind == "nmea":
        port = ctx.serial_reader(str(value), where)
        label = ctx.port_label(str(value), where)
        resources: dict[int, ResourceBinding] = {}
        for rid, field in NMEA_FIELDS_BY_ID.items():
            if rid in model.resources:
                resources[rid] = NmeaField(port=port, field=field, rtype=model.resources[rid].type)
                ctx.labels[LwPath(model.id, iid, rid)] = ("nmea", f"{label} {field}")
        return ObjectInstance(iid, resources)
    if shortcut.kind == "gpio_input":
        assert isinstance(value, dict)
        gpio = ctx.gpio_input_line(str(value["chip"]), value["line"], gpio_input_options(value), where)
        resources = {}
        for rid, field in GPIO_INPUT_FIELDS_BY_ID.items():
            if rid in model.resources:
                resources[rid] = GpioCounterReset(gpio=gpio) if field == "counter_reset" else \
                    GpioInput(gpio=gpio, field=field)
                ctx.labels[LwPath(model.id, iid, rid)] = ("gpio_input", f"{value['chip']} line {value['line']} {field}")
        return ObjectInstance(iid, resources)
    if shortcut.kind == "gpio_output":
        assert isinstance(value, dict)
        chip = ctx.claim_output(str(value["chip"]), value["line"], where)
        rid = 5850 if 5850 in model.resources else 5550
        output = GpioOutput(chip=chip, line=value["line"], **_options(value, "active_low", "initial"))
        ctx.labels[LwPath(model.id, iid, rid)] = ("gpio_output", f"{value['chip']} line {value['line']}")
        return ObjectInstance(iid, {rid: output})
    directory = ctx.file_path(str(value), where)
    resources = {}
    for rmodel in model.resources.values():
        resources[rmodel.id] = file_tree_binding(directory, model.id, iid, rmodel,
                                                 poll_interval=o.get("poll_interval"))
        ctx.labels[LwPath(model.id, iid, rmodel.id)] = ("file", f"{directory}/{model.id}/{iid}/{rmodel.id}")
    return ObjectInstance(iid, resources)

