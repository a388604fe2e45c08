"""The hardware handles bindings share while one profile is built, and the rules of each mode.

Several resources use one serial port (a GPS feeds seven Location resources) or one GPIO line
(state, counter and timestamp of a button); :class:`HardwareContext` hands out one shared handle
per port, chip and line, and refuses two incompatible uses of one (a line as input and output, a
port with two baud rates), naming both places in the profile.

It also holds what differs between the three ways a profile is built:

- ``dry``: ``load_profile`` checks every binding by constructing it, with no hardware touched;
  ``sim:`` names stay placeholders and device paths are not looked up.
- ``simulate``: ``sim:`` ports are the simulator's ptys, GPIO chips are fake, ``sim:`` files live
  in the simulator's scratch folder; a device path that does not exist is left to answer 5.03.
- ``real``: ``sim:`` names are refused; a serial port that does not exist (and is not
  ``optional``), a missing GPIO chip or a missing ``gpiod`` package stop the start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..core.path import Path as LwPath
from ..hardware import GpioChip, GpioInputLine, HardwareConfigError, LibgpiodChip, SerialPortReader
from ..hardware.gpio_fake import FakeGpioChip
from ..simulator.devices import SIMULATED_SERIAL_KINDS
from .errors import Where, did_you_mean
from .spec import SerialPortSpec

if TYPE_CHECKING:
    from ..simulator.devices import SimulatedHardware

Mode = Literal["dry", "simulate", "real"]
SERIAL_SETTINGS = ("baudrate", "bytesize", "parity", "stopbits", "encoding", "silence_timeout",
                   "reconnect_delay", "reconnect_max_delay")


def resolve_port(ref: str, declared: dict[str, SerialPortSpec], where: Where) -> SerialPortSpec:
    """What a binding's ``port = ...`` names: a ``[serial.NAME]`` table, ``sim:KIND`` or a device path."""
    spec = declared.get(ref)
    if spec is not None:
        return spec
    if ref.startswith("sim:"):
        kind = ref[len("sim:"):]
        if kind not in SIMULATED_SERIAL_KINDS:
            raise where.error(f"the simulator has no {kind!r} device{did_you_mean(kind, SIMULATED_SERIAL_KINDS)}",
                              "use one of " + ", ".join(f"sim:{k}" for k in SIMULATED_SERIAL_KINDS))
        return SerialPortSpec(ref, ref, {}, False, where)
    if ref.startswith("/"):
        return SerialPortSpec(ref, ref, {}, False, where)
    known = f" (declared: {', '.join(declared)})" if declared else ""
    raise where.error(f"no serial port named {ref!r}{did_you_mean(ref, declared)}{known}",
                      f'give a device path such as "/dev/{ref}", "sim:gps", or declare [serial.{ref}] with '
                      f'device = "/dev/..."')


def _same_settings(a: SerialPortSpec, b: SerialPortSpec) -> bool:
    return a is b or a.settings == b.settings


class HardwareContext:
    """Shared serial readers, GPIO chips and lines for one build, and the mode's rules."""

    def __init__(self, *, mode: Mode, profile_dir: Path, serial_ports: dict[str, SerialPortSpec],
                 sim: SimulatedHardware | None = None, sim_ports: dict[str, str] | None = None) -> None:
        if mode == "simulate" and sim is None:
            raise ValueError("simulate mode needs a SimulatedHardware")
        self.mode = mode
        self.profile_dir = profile_dir
        self.serial_ports = serial_ports
        self.sim = sim
        self.sim_ports = sim_ports or {}
        self.labels: dict[LwPath, tuple[str, str]] = {}
        self._readers: dict[str, tuple[SerialPortReader, SerialPortSpec]] = {}
        self._chips: dict[str, GpioChip] = {}
        self._inputs: dict[tuple[str, int | str], tuple[GpioInputLine, dict[str, object], Where]] = {}
        self._outputs: dict[tuple[str, int | str], Where] = {}

    @property
    def simulate(self) -> bool:
        """Whether actions must only pretend (reboot, factory reset); a dry run pretends too."""
        return self.mode != "real"

    # ---- serial ----------------------------------------------------------------------------------
    def port_label(self, ref: str, where: Where) -> str:
        spec = resolve_port(ref, self.serial_ports, where)
        device = self._device(spec)
        return spec.device if device == spec.device else f"{spec.device} ({device})"

    def _device(self, spec: SerialPortSpec) -> str:
        kind = spec.simulated_kind
        if kind is None:
            return spec.device
        if self.mode == "real":
            raise spec.device_where.error(f"{spec.device} is the simulator's {kind} device",
                                   "run the agent in simulator mode, or give the real port's device path, "
                                   'e.g. "/dev/serial/by-id/..."')
        if self.mode == "simulate":
            path = self.sim_ports.get(kind)
            if path is None:
                raise spec.device_where.error(f"the simulator has no {kind} device running",
                                       f"add one to the simulator before building (SimulatedHardware"
                                       f".add_serial_device('{kind}', ...))")
            return path
        return spec.device

    def serial_reader(self, ref: str, where: Where) -> SerialPortReader:
        """The one reader of the port ``ref`` names (opened later, when a binding starts)."""
        spec = resolve_port(ref, self.serial_ports, where)
        device = self._device(spec)
        known = self._readers.get(device)
        if known is not None:
            reader, first = known
            if not _same_settings(first, spec):
                raise where.error(f"port {spec.device} is already used with other settings (line {first.where.line})",
                                  "declare the port once in a [serial.NAME] table and refer to it by name")
            return reader
        if self.mode == "real" and spec.simulated_kind is None and not spec.optional \
                and not os.path.exists(device):
            raise spec.device_where.error(
                f"no serial port {device} on this machine",
                "plug the device in and check the path (ls /dev/serial/by-id/), set optional = true in its "
                "[serial.NAME] table to start without it, or run in simulator mode")
        settings = dict(spec.settings)
        if settings.get("silence_timeout") == 0:
            settings["silence_timeout"] = None
        try:
            reader = SerialPortReader(device=device, **settings)  # type: ignore[arg-type]
        except HardwareConfigError as exc:
            where = spec.where.at(exc.field) if exc.field in spec.settings else spec.device_where
            raise where.error(exc.reason, exc.fix) from None
        self._readers[device] = (reader, spec)
        return reader

    # ---- GPIO ------------------------------------------------------------------------------------
    def gpio_chip(self, name: str, where: Where) -> GpioChip:
        chip = self._chips.get(name)
        if chip is not None:
            return chip
        if self.mode == "dry":
            chip = FakeGpioChip(name)
        elif self.mode == "simulate":
            assert self.sim is not None
            chip = self.sim.gpio_chip(name)
        else:
            real = LibgpiodChip(name)
            try:
                import gpiod
            except ImportError:
                raise where.error("the gpiod package (libgpiod v2 bindings) is not installed",
                                  "pip install 'gpiod>=2.0' into the agent's environment (see agent/hardware/gpio.py "
                                  "for the Raspberry Pi setup), or run in simulator mode") from None
            if not hasattr(gpiod, "request_lines"):
                raise where.error("the installed gpiod package is the old v1 API", "pip install 'gpiod>=2.0'")
            if not os.path.exists(real.path):
                raise where.error(f"no GPIO chip {real.path} on this machine",
                                  "gpioinfo lists the chips (a Pi 5 with an older kernel has its header on "
                                  "gpiochip4), or run in simulator mode")
            chip = real
        self._chips[name] = chip
        return chip

    def gpio_input_line(self, chip_name: str, line: int | str, options: dict[str, object],
                        where: Where) -> GpioInputLine:
        """The one input request of ``line`` on ``chip_name``, shared by the resources describing it."""
        key = (chip_name, line)
        output = self._outputs.get(key)
        if output is not None:
            raise where.error(f"line {line} of {chip_name} is already an output (line {output.line})",
                              "use another line, or bind only one of the two")
        known = self._inputs.get(key)
        if known is not None:
            gpio, first_options, first_where = known
            if first_options != options:
                raise where.error(
                    f"line {line} of {chip_name} is already an input with other settings (line {first_where.line})",
                    "give active_low, bias and debounce_ms the same values wherever the line is used")
            return gpio
        chip = self.gpio_chip(chip_name, where.at("chip"))
        try:
            gpio = GpioInputLine(chip=chip, line=line, **options)  # type: ignore[arg-type]
        except HardwareConfigError as exc:
            raise where.at(exc.field).error(exc.reason, exc.fix) from None
        self._inputs[key] = (gpio, options, where)
        if self.mode == "simulate" and self.sim is not None:
            self.sim.add_button(chip_name, line)
        return gpio

    def claim_output(self, chip_name: str, line: int | str, where: Where) -> GpioChip:
        key = (chip_name, line)
        other = self._outputs.get(key)
        if other is None and key in self._inputs:
            other = self._inputs[key][2]
        if other is not None:
            raise where.error(f"line {line} of {chip_name} is already used (line {other.line})",
                              "drive each output line from one resource only")
        self._outputs[key] = where
        return self.gpio_chip(chip_name, where.at("chip"))

    # ---- files -----------------------------------------------------------------------------------
    def file_path(self, text: str, where: Where) -> str:
        """A file binding's path: ``sim:NAME`` in the simulator's folder, else relative to the profile."""
        if text.startswith("sim:"):
            name = text[len("sim:"):]
            if not name or name.startswith("/") or ".." in Path(name).parts:
                raise where.error(f"{text!r} is not a simulator file name", 'give e.g. "sim:fan-speed"')
            if self.mode == "real":
                raise where.error(f"{text} is a file of the simulator", "run in simulator mode, or give a real path")
            if self.mode == "simulate":
                assert self.sim is not None
                return self.sim.file_path(name)
            return text
        path = Path(text).expanduser()
        return str(path if path.is_absolute() else self.profile_dir / path)
