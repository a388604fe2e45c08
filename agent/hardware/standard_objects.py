"""Whole object instances backed by the Linux system: Device (3), Connectivity Monitoring (4) and
the CPU temperature as an IPSO Temperature (3303).

These are the instances every Linux device serves the same way, so the built-in object set and the
``system`` instances of device profiles both take them from here. Resources whose fact this machine
lacks (no battery, no thermal zone) stay in the instance and answer 5.03 when read on their own;
an instance or object read leaves them out.
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path

from ..core.errors import ServiceUnavailable
from ..core.model import ResourceType
from ..tree import ObjectInstance, StoredValue
from ..tree.binding import ResourceBinding, ResourceContent
from . import linux_facts
from .clock import CurrentTime, SystemClock, Timezone, UtcOffset
from .device_actions import ErrorCodes, FactoryReset, Reboot, ResetErrorCodes
from .system import SystemFact

log = logging.getLogger(__name__)


class WithFallback(ResourceBinding):
    """A fact with a stand-in for machines that lack it (a container has no DMI, a VM no serial).

    Servers show Manufacturer, Model and Serial Number as the device's identity, so an empty answer
    there is worse than an honest generic one.
    """

    __slots__ = ("fallback", "primary")

    def __init__(self, primary: ResourceBinding, fallback: ResourceContent) -> None:
        super().__init__()
        self.primary = primary
        self.fallback = fallback

    async def read(self) -> ResourceContent:
        try:
            return await self.primary.read()
        except ServiceUnavailable:
            return self.fallback


def _serial_stand_in(root: Path) -> str:
    try:
        return linux_facts.machine_id(root)
    except linux_facts.FactUnavailable:
        return "unknown"


# Device object resource id -> system fact.
DEVICE_FACTS = {
    0: "manufacturer", 1: "model", 2: "serial_number", 3: "firmware_version", 6: "power_sources",
    7: "power_source_voltage", 8: "power_source_current", 9: "battery_level", 10: "memory_free",
    18: "hardware_version", 19: "software_version", 20: "battery_status", 21: "memory_total",
}

CONNECTIVITY_FACTS = {
    0: "network_bearer", 1: "available_network_bearers", 2: "radio_signal_strength", 3: "link_quality",
    4: "ip_addresses", 5: "router_ip_addresses", 9: "smnc", 10: "smcc",
}


def device_instance(*, simulate: bool, root: str | Path = Path("/"), iid: int = 0,
                    reboot_action: tuple[str, ...] | None = None,
                    factory_reset_action: tuple[str, ...] | None = None) -> ObjectInstance:
    """3/x from the Linux system; reboot and factory reset as ``device_actions`` describes."""
    clock = SystemClock(root=root, simulate=simulate)
    errors = ErrorCodes(root=root)
    resources: dict[int, ResourceBinding] = {
        rid: SystemFact(fact=fact, root=root) for rid, fact in DEVICE_FACTS.items()
    }
    fallbacks = {0: "Linux", 1: f"{platform.system()} {platform.machine()}", 2: _serial_stand_in(Path(root))}
    for rid, fallback in fallbacks.items():
        resources[rid] = WithFallback(resources[rid], fallback)
    resources.update({
        4: Reboot(action=reboot_action, simulate=simulate),
        5: FactoryReset(action=factory_reset_action, simulate=simulate),
        11: errors,
        12: ResetErrorCodes(errors=errors),
        13: CurrentTime(clock=clock),
        14: UtcOffset(clock=clock),
        15: Timezone(clock=clock),
        16: StoredValue("U", writable=False),
        17: StoredValue("Linux gateway", writable=False),
    })
    return ObjectInstance(iid, resources)


def connectivity_instance(*, root: str | Path = Path("/"), interface: str | None = None,
                          iid: int = 0) -> ObjectInstance:
    """4/x: bearer, signal, addresses and routers of the default route's interface."""
    return ObjectInstance(iid, {rid: SystemFact(fact=fact, root=root, interface=interface)
                                for rid, fact in CONNECTIVITY_FACTS.items()})


def cpu_temperature_instance(*, root: str | Path = Path("/"), iid: int = 0, poll_interval: float | None = 10.0,
                             thermal_zone: str | None = None) -> ObjectInstance:
    """3303/x: the CPU temperature in °C, re-read every ``poll_interval`` s for observers."""
    return ObjectInstance(iid, {
        5700: SystemFact(fact="cpu_temperature", root=root, rtype=ResourceType.FLOAT, poll_interval=poll_interval,
                         thermal_zone=thermal_zone),
        5701: StoredValue("Cel", writable=False),
    })
