"""The Device object's executable resources and error codes: Reboot, Factory Reset, Error Code, Reset.

Reboot (3/0/4) and Factory Reset (3/0/5) must answer the server before the device goes down, so the
execute answers at once and the action runs after ``delay`` seconds. The action is, in this order:

- the ``action`` command a profile names (not in simulator mode): for installs that may run it;
- else the ``handler`` the service attached (``lwm2m-agent run``, see ``agent.daemon.device_control``):
  the agent de-registers and exits with the status the systemd unit turns into a reboot, or clears
  its state and bootstraps again -- the hardened unit leaves the agent no privilege to reboot itself;
- else, in simulator mode, nothing: the request is logged ("reboot requested (simulator: not
  rebooting)") and counted, which is what a simulated fleet and its tests look at.

Error Code (3/0/11) lists the device's current error conditions (0 alone when there is none):
codes other parts of the agent report (a GPS that stopped answering, an IP connectivity failure),
plus conditions read from the system at read time (low battery, low memory). Reset Error Code
(3/0/12) clears the reported ones; the measured ones stay as long as the condition does.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from ..core.errors import InternalError
from ..tree.binding import ResourceBinding, ResourceContent
from . import linux_facts as facts
from .errors import HardwareConfigError
from .process import CommandFailed, check_argv, check_timeout, run_command

log = logging.getLogger(__name__)


class DeviceAction(ResourceBinding):
    """An executable resource that runs ``action`` or ``handler`` after ``delay`` seconds (module docstring)."""

    what = "action"
    # What happens without a command when the agent runs as a service, for ``profile check``.
    service_effect = "handed to the service"

    def __init__(self, *, action: Sequence[str] | None, simulate: bool = False, delay: float = 1.0,
                 timeout: float = 60.0) -> None:
        super().__init__()
        self.action = check_argv(action, "action") if action is not None else None
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            raise HardwareConfigError("delay", f"{delay!r} is not a number of seconds",
                                      "give e.g. delay = 1.0")
        self.simulate = simulate
        self.delay = float(delay)
        self.timeout = check_timeout(timeout)
        self.requests = 0
        self.handler: Callable[[], None] | None = None
        self._pending: asyncio.Task[None] | None = None

    def describe(self) -> str:
        """What an execute does, as ``profile check`` shows it."""
        if self.action is not None and not self.simulate:
            return " ".join(self.action)
        return ("simulator: " if self.simulate else "") + self.service_effect

    async def execute(self, arguments: str) -> None:
        self.requests += 1
        if self._pending is not None and not self._pending.done():
            log.info("%s requested again; already pending", self.what)
            return
        if self.action is not None and not self.simulate:
            if shutil.which(self.action[0]) is None:
                raise InternalError(f"cannot {self.what}: {self.action[0]} not found")
            log.warning("%s requested: running %s in %g s", self.what, " ".join(self.action), self.delay)
        elif self.handler is not None:
            log.warning("%s requested: %s in %g s", self.what, self.service_effect, self.delay)
        elif self.simulate:
            log.warning("%s requested (simulator: not %s)", self.what, self.doing)
            return
        else:
            raise InternalError(f"cannot {self.what}: no command configured and the agent does not run "
                                "as a service (lwm2m-agent run)")
        self._pending = asyncio.get_running_loop().create_task(self._run_later())

    async def _run_later(self) -> None:
        # The execute is answered first; the device may be gone by the time the action ends.
        await asyncio.sleep(self.delay)
        if self.action is None or self.simulate:
            assert self.handler is not None
            self.handler()
            return
        try:
            await run_command(self.action, timeout=self.timeout)
        except CommandFailed as exc:
            log.error("%s failed: %s", self.what, exc.reason)

    async def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()

    @property
    def doing(self) -> str:
        return f"running the {self.what}"


class Reboot(DeviceAction):
    """3/0/4 Reboot: by default handed to the service, which exits for the systemd unit to reboot."""

    what = "reboot"
    service_effect = "de-register, exit with the status the systemd unit reboots on"

    def __init__(self, *, action: Sequence[str] | None = None, simulate: bool = False,
                 delay: float = 1.0, timeout: float = 60.0) -> None:
        super().__init__(action=action, simulate=simulate, delay=delay, timeout=timeout)

    @property
    def doing(self) -> str:
        return "rebooting"


class FactoryReset(DeviceAction):
    """3/0/5 Factory Reset: by default the agent's own state is discarded and it bootstraps again.

    A profile's command replaces that (a device's wider factory state is its own business).
    """

    what = "factory reset"
    service_effect = "de-register, empty the state directory, bootstrap again"

    def __init__(self, *, action: Sequence[str] | None = None, simulate: bool = False,
                 delay: float = 1.0, timeout: float = 300.0) -> None:
        super().__init__(action=action, simulate=simulate, delay=delay, timeout=timeout)

    @property
    def doing(self) -> str:
        return "resetting"


class DeviceError(enum.IntEnum):
    """The error codes of 3/0/11."""

    NO_ERROR = 0
    LOW_BATTERY = 1
    EXTERNAL_POWER_OFF = 2
    GPS_FAILURE = 3
    LOW_SIGNAL = 4
    OUT_OF_MEMORY = 5
    SMS_FAILURE = 6
    IP_CONNECTIVITY_FAILURE = 7
    PERIPHERAL_MALFUNCTION = 8


class ErrorCodes(ResourceBinding):
    """3/0/11 Error Code: reported codes plus the measured ones, or {0: 0} when all is well.

    ``low_battery_percent`` / ``low_memory_kib`` (None: not checked) make the binding add LOW_BATTERY
    / OUT_OF_MEMORY whenever the system under ``root`` is below them at read time.
    """

    def __init__(self, *, root: str | Path = Path("/"), low_battery_percent: int | None = 10,
                 low_memory_kib: int | None = None) -> None:
        super().__init__()
        self.root = Path(root)
        self.low_battery_percent = low_battery_percent
        self.low_memory_kib = low_memory_kib
        self._reported: set[int] = set()

    def report(self, code: int) -> None:
        """Raise an error condition (another part of the agent noticed it)."""
        code = int(DeviceError(code))
        if code != DeviceError.NO_ERROR and code not in self._reported:
            self._reported.add(code)
            self.changed()

    def clear(self, code: int | None = None) -> None:
        """Clear one reported code, or all of them."""
        before = len(self._reported)
        if code is None:
            self._reported.clear()
        else:
            self._reported.discard(int(code))
        if len(self._reported) != before:
            self.changed()

    def measured(self) -> set[int]:
        found: set[int] = set()
        if self.low_battery_percent is not None:
            try:
                if facts.battery_level(self.root) <= self.low_battery_percent:
                    found.add(DeviceError.LOW_BATTERY)
            except facts.FactUnavailable:
                pass
        if self.low_memory_kib is not None:
            try:
                if facts.memory_free_kib(self.root) < self.low_memory_kib:
                    found.add(DeviceError.OUT_OF_MEMORY)
            except facts.FactUnavailable:
                pass
        return found

    async def read(self) -> ResourceContent:
        codes = sorted(self._reported | self.measured())
        if not codes:
            return {0: int(DeviceError.NO_ERROR)}
        return {i: int(code) for i, code in enumerate(codes)}


class ResetErrorCodes(ResourceBinding):
    """3/0/12 Reset Error Code: clears the reported error codes of ``errors``."""

    def __init__(self, *, errors: ErrorCodes) -> None:
        super().__init__()
        self.errors = errors

    async def execute(self, arguments: str) -> None:
        self.errors.clear()
