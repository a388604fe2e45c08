"""Hardware backends: where resource values come from and where writes and executes go.

Every backend is an :class:`agent.tree.binding.ResourceBinding` with plain keyword arguments that a
device profile fills, and raises :class:`HardwareConfigError` (field, reason, fix) for an argument
that cannot work. At run time, hardware that is not there answers 5.03 with the reason.

- Linux system facts (/proc, /sys, /etc): :class:`SystemFact`; the Device object's clock and time
  zone (:class:`SystemClock` with :class:`CurrentTime`, :class:`UtcOffset`, :class:`Timezone`), its
  executes (:class:`Reboot`, :class:`FactoryReset`) and error codes (:class:`ErrorCodes`,
  :class:`ResetErrorCodes`).
- Serial sensors: a shared :class:`SerialPortReader` per port feeding :class:`SerialLineValue`,
  :class:`NmeaField` (GPS into object 6) and :class:`SerialQuery`.
- GPIO: :class:`GpioChip` implemented by :class:`LibgpiodChip` and :class:`FakeGpioChip`; a shared
  :class:`GpioInputLine` per input feeding :class:`GpioInput` / :class:`GpioCounterReset`, and
  :class:`GpioOutput`.
- Files in inventoryd's style (:class:`FileBinding`, :class:`ExecutableFile`,
  :func:`file_tree_binding`) and commands (:class:`CommandBinding`).
- :class:`Constant` and simulated sources (:class:`RandomWalk`, :class:`SineWave`,
  :class:`Counter`, :class:`Toggle`, :class:`Cycle`) stepped by a shared :class:`Ticker`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clock import CurrentTime, SystemClock, Timezone, UtcOffset
    from .command import CommandBinding
    from .constant import Constant
    from .device_actions import DeviceError, ErrorCodes, FactoryReset, Reboot, ResetErrorCodes
    from .errors import HardwareConfigError
    from .files import ExecutableFile, FileBinding, file_tree_binding
    from .gpio import GpioCounterReset, GpioInput, GpioInputLine, GpioOutput
    from .gpio_chip import Bias, EdgeEvent, GpioChip
    from .gpio_fake import FakeGpioChip
    from .gpio_libgpiod import LibgpiodChip
    from .serial_bindings import NmeaField, NmeaReceiver, SerialLineValue, SerialQuery
    from .serial_port import SerialPortReader
    from .simulated import Counter, Cycle, RandomWalk, SimulatedSource, SineWave, Toggle
    from .system import FACTS, SystemFact
    from .ticker import Ticker, shared_ticker

# Imported on first use: an agent that binds no serial port or GPIO line does not pay for pyserial
# and termios in memory (the idle RSS budget is 30 MB).
_WHERE = {
    "CurrentTime": "clock",
    "SystemClock": "clock",
    "Timezone": "clock",
    "UtcOffset": "clock",
    "CommandBinding": "command",
    "Constant": "constant",
    "DeviceError": "device_actions",
    "ErrorCodes": "device_actions",
    "FactoryReset": "device_actions",
    "Reboot": "device_actions",
    "ResetErrorCodes": "device_actions",
    "HardwareConfigError": "errors",
    "ExecutableFile": "files",
    "FileBinding": "files",
    "file_tree_binding": "files",
    "GpioCounterReset": "gpio",
    "GpioInput": "gpio",
    "GpioInputLine": "gpio",
    "GpioOutput": "gpio",
    "Bias": "gpio_chip",
    "EdgeEvent": "gpio_chip",
    "GpioChip": "gpio_chip",
    "FakeGpioChip": "gpio_fake",
    "LibgpiodChip": "gpio_libgpiod",
    "NmeaField": "serial_bindings",
    "NmeaReceiver": "serial_bindings",
    "SerialLineValue": "serial_bindings",
    "SerialQuery": "serial_bindings",
    "SerialPortReader": "serial_port",
    "Counter": "simulated",
    "Cycle": "simulated",
    "RandomWalk": "simulated",
    "SimulatedSource": "simulated",
    "SineWave": "simulated",
    "Toggle": "simulated",
    "FACTS": "system",
    "SystemFact": "system",
    "Ticker": "ticker",
    "shared_ticker": "ticker",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "FACTS",
    "Bias",
    "CommandBinding",
    "Constant",
    "Counter",
    "CurrentTime",
    "Cycle",
    "DeviceError",
    "EdgeEvent",
    "ErrorCodes",
    "ExecutableFile",
    "FactoryReset",
    "FakeGpioChip",
    "FileBinding",
    "GpioChip",
    "GpioCounterReset",
    "GpioInput",
    "GpioInputLine",
    "GpioOutput",
    "HardwareConfigError",
    "LibgpiodChip",
    "NmeaField",
    "NmeaReceiver",
    "RandomWalk",
    "Reboot",
    "ResetErrorCodes",
    "SerialLineValue",
    "SerialPortReader",
    "SerialQuery",
    "SimulatedSource",
    "SineWave",
    "SystemClock",
    "SystemFact",
    "Ticker",
    "Timezone",
    "Toggle",
    "UtcOffset",
    "file_tree_binding",
    "shared_ticker",
]
