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
