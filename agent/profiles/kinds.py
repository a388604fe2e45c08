"""The binding kinds a profile may give a resource, the keys each one takes, and what it does.

This is the schema of a resource table such as ``{ kind = "serial_line", port = "sim:sensor",
pattern = "H=(\\S+)" }``: for every kind, its keys with their TOML types, which are required, and
whether the binding reads, writes or executes (so the loader can refuse a write binding on a
read-only resource before anything runs). Keys are checked here, by type, so that a hardware
constructor only ever sees the types it was written for. Pure code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.model import ResourceModel
from .errors import Where, did_you_mean, toml_text


@dataclass(frozen=True, slots=True)
class Param:
    """One key of a binding table: its TOML type and whether it must be there."""

    type: str  # str, int, number, bool, argv, str_list, line, list, value
    required: bool = False
    example: str = ""


@dataclass(frozen=True, slots=True)
class BindingKind:
    name: str
    summary: str
    params: Mapping[str, Param]


_NUMBER = Param("number")
_POLL = Param("number", example="poll_interval = 5.0")
_PORT = Param("str", True, 'port = "/dev/ttyUSB0" (or "sim:gps", or the name of a [serial.NAME] table)')
_CHIP = Param("str", True, 'chip = "gpiochip0"')
_LINE = Param("line", True, "line = 17")
_SELECT = {
    "pattern": Param("str", example='pattern = "T=(-?[0-9.]+)"'),
    "field": Param("int", example="field = 2"),
    "separator": Param("str", example='separator = ","'),
}
_INTERVAL = Param("number", example="interval = 1.0")

# Parameters of each simulated source (the keys besides "source").
SIMULATED_SOURCES: dict[str, dict[str, Param]] = {
    "random_walk": {"minimum": _NUMBER, "maximum": _NUMBER, "step": _NUMBER, "start": _NUMBER,
                    "seed": Param("int"), "interval": _INTERVAL},
    "sine": {"period": _NUMBER, "amplitude": _NUMBER, "offset": _NUMBER, "interval": _INTERVAL},
    "counter": {"start": _NUMBER, "step": _NUMBER, "maximum": _NUMBER, "interval": _INTERVAL},
    "toggle": {"initial": Param("bool"), "interval": _INTERVAL},
    "cycle": {"choices": Param("list", True, 'choices = ["idle", "busy"]'), "interval": _INTERVAL},
}

_ACTION = {"command": Param("argv", example='command = ["systemctl", "reboot"]'), "delay": _NUMBER,
           "timeout": _NUMBER}

KINDS: dict[str, BindingKind] = {k.name: k for k in (
    BindingKind("system", "a Linux system fact (/proc, /sys)", {
        "fact": Param("str", True, 'fact = "uptime"'), "interface": Param("str"), "thermal_zone": Param("str"),
        "poll_interval": _POLL, "modem_command": Param("str_list"), "root": Param("str")}),
    BindingKind("serial_line", "the last value a sensor printed on a serial port",
                {"port": _PORT, **_SELECT, "max_age": _NUMBER}),
    BindingKind("nmea", "a GPS (NMEA 0183) value",
                {"port": _PORT, "field": Param("str", example='field = "latitude"')}),
    BindingKind("serial_query", "the answer of a serial sensor to a query", {
        "port": _PORT, "query": Param("str", True, 'query = "READ?"'), **_SELECT,
        "terminator": Param("str"), "timeout": _NUMBER, "poll_interval": _POLL}),
    BindingKind("gpio_input", "a GPIO input line (state, counter, timestamp, polarity, counter reset)", {
        "chip": _CHIP, "line": _LINE, "active_low": Param("bool"), "bias": Param("str"),
        "debounce_ms": Param("int"), "field": Param("str", example='field = "state"')}),
    BindingKind("gpio_output", "a GPIO output line driven by writes", {
        "chip": _CHIP, "line": _LINE, "active_low": Param("bool"), "initial": Param("bool")}),
    BindingKind("file", "a file's content (an executable file for an executable resource)", {
        "path": Param("str", True, 'path = "/run/sensor/value"'), "read_hook": Param("str"),
        "write_hook": Param("str"), "hook_timeout": _NUMBER, "poll_interval": _POLL, "initial": Param("value"),
        "timeout": _NUMBER}),
    BindingKind("command", "commands run for read, write and execute (no shell)", {
        "read_command": Param("argv", example='read_command = ["vcgencmd", "measure_temp"]'),
        "write_command": Param("argv"), "execute_command": Param("argv"), "pattern": Param("str"),
        "value_via": Param("str", example='value_via = "stdin"'), "timeout": _NUMBER, "poll_interval": _POLL}),
    BindingKind("constant", "a fixed value", {"value": Param("value", True, "value = 42")}),
    BindingKind("value", "a value held in memory that the server may write", {
        "value": Param("value", True, 'value = "greenhouse"')}),
    BindingKind("simulated", "a simulated source (" + ", ".join(SIMULATED_SOURCES) + ")", {
        "source": Param("str", True, 'source = "random_walk"')}),
    BindingKind("reboot", "reboots the device (without a command: through the systemd unit)", _ACTION),
    BindingKind("factory_reset", "resets the device (without a command: the agent's own state)", _ACTION),
)}

# GPIO input resources by IPSO resource id, for tables that give no ``field``.
GPIO_INPUT_FIELDS_BY_ID = {5500: "state", 5501: "counter", 5502: "polarity", 5505: "counter_reset",
                           5518: "timestamp"}
GPIO_INPUT_FIELDS = ("state", "counter", "timestamp", "polarity", "counter_reset")
# Location (object 6) resources by id, for nmea tables that give no ``field``.
NMEA_FIELDS_BY_ID = {0: "latitude", 1: "longitude", 2: "altitude", 3: "radius", 4: "velocity", 5: "timestamp",
                     6: "speed"}

_TYPE_WORDS = {
    "str": "a string", "int": "an integer", "number": "a finite number", "bool": "true or false",
    "argv": "a command as a list of strings", "str_list": "a list of strings",
    "line": "a line offset (integer) or a line name (string)", "list": "a list", "value": "a value",
}


def check_param(name: str, param: Param, raw: object, where: Where) -> object:
    """``raw`` if it has the TOML type ``param`` wants, else ProfileError at ``where``."""
    kind = param.type
    ok = {
        "str": isinstance(raw, str),
        "int": isinstance(raw, int) and not isinstance(raw, bool),
        "number": isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw),
        "bool": isinstance(raw, bool),
        "argv": isinstance(raw, list) and bool(raw) and all(isinstance(p, str) for p in raw),
        "str_list": isinstance(raw, list) and all(isinstance(p, str) for p in raw),
        "line": (isinstance(raw, int) and not isinstance(raw, bool)) or isinstance(raw, str),
        "list": isinstance(raw, list),
        "value": True,
    }[kind]
    if not ok:
        fix = f"give {name} as {_TYPE_WORDS[kind]}" + (f", e.g. {param.example}" if param.example else "")
        raise where.error(f"{toml_text(raw)} is not {_TYPE_WORDS[kind]}", fix)
    return raw


def check_params(params: Mapping[str, Param], raw: Mapping[str, object], where: Where,
                 what: str) -> dict[str, Any]:
    """The keys of a binding table, checked: no unknown key, every required key, right types."""
    for key in raw:
        if key not in params:
            raise where.at(key).error(
                f"{what} takes no key {key!r}{did_you_mean(key, params)}",
                "use " + (", ".join(params) if params else "no other key") + " (or remove the key)")
    for key, param in params.items():
        if param.required and key not in raw:
            raise where.error(f"{what} needs {key}", f"add {param.example or key + ' = ...'}")
    return {key: check_param(key, params[key], value, where.at(key)) for key, value in raw.items()}


@dataclass(frozen=True, slots=True)
class Operations:
    """What a binding does: the loader compares it with what the resource's model allows."""

    reads: bool
    writes: bool
    executes: bool


def binding_operations(kind: str, params: Mapping[str, object], model: ResourceModel) -> Operations:
    """The operations a binding of ``kind`` with ``params`` performs on the resource ``model``."""
    if kind in ("reboot", "factory_reset"):
        return Operations(False, False, True)
    if kind == "command":
        return Operations("read_command" in params, "write_command" in params, "execute_command" in params)
    if kind == "file":
        if model.operations.executable:
            return Operations(False, False, True)
        return Operations(True, model.operations.writable or "write_hook" in params, False)
    if kind == "gpio_input":
        field = params.get("field", GPIO_INPUT_FIELDS_BY_ID.get(model.id, "state"))
        if field == "counter_reset":
            return Operations(False, False, True)
        return Operations(True, field == "polarity", False)
    if kind == "gpio_output":
        return Operations(True, True, False)
    if kind == "value":
        return Operations(True, model.operations.writable, False)
    return Operations(True, False, False)
