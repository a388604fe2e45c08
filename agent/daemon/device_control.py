"""Reboot and Factory Reset of a running service: where 3/0/4 and 3/0/5 land under ``lwm2m-agent run``.

The shipped systemd unit runs the agent as a dynamic user with no capabilities and
``NoNewPrivileges=``, so the agent cannot reboot the machine itself (``systemctl reboot`` is
refused). It does not need to: a reboot request makes the agent answer 2.04 (the execute is
answered first, as the spec requires), de-register and exit with :data:`EXIT_REBOOT`, and the
unit -- root's configuration, not the agent's -- maps that status to a reboot
(``SuccessExitStatus=`` and an ``ExecStopPost=+`` that runs ``systemctl --no-block reboot`` for
that status only). Outside the unit the status reaches whoever started the agent and nothing
reboots.

A factory reset needs no privilege: the agent de-registers, empties its state directory
(bootstrapped credentials and whatever else it saved there) and starts over in the same process, so it
bootstraps again -- with or without systemd.

A binding with a command from the profile runs that command instead (``device_actions``).
"""

from __future__ import annotations

import asyncio
import enum
import functools

from ..hardware.device_actions import FactoryReset, Reboot
from ..tree import ObjectTree

# Unit files map this to a reboot: keep systemd/lwm2m-agent.service in step (a test checks it).
# 150-199 is the LSB range for applications; systemd's own statuses start at 200.
EXIT_REBOOT = 194


class DeviceRequest(enum.Enum):
    REBOOT = "reboot"
    FACTORY_RESET = "factory reset"


class DeviceControl:
    """Takes the Reboot and Factory Reset requests of a tree's Device object for the runner."""

    def __init__(self) -> None:
        self.requested: DeviceRequest | None = None
        self.event = asyncio.Event()

    def attach(self, tree: ObjectTree) -> int:
        """Hand every Reboot and Factory Reset binding of ``tree`` to this control; how many."""
        count = 0
        for binding in tree.bindings():
            if isinstance(binding, Reboot):
                binding.handler = functools.partial(self.request, DeviceRequest.REBOOT)
            elif isinstance(binding, FactoryReset):
                binding.handler = functools.partial(self.request, DeviceRequest.FACTORY_RESET)
            else:
                continue
            count += 1
        return count

    def request(self, kind: DeviceRequest) -> None:
        # A reboot outranks a factory reset asked for in the same moment.
        if self.requested is not DeviceRequest.REBOOT:
            self.requested = kind
        self.event.set()

    def take(self) -> DeviceRequest | None:
        """The pending request, cleared."""
        kind, self.requested = self.requested, None
        self.event.clear()
        return kind
