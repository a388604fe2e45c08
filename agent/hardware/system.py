"""Linux system facts as resources: the Device (3), Connectivity Monitoring (4) and CPU temperature.

One binding class, :class:`SystemFact`, reads one named fact (see :data:`FACTS`) through
``linux_facts`` under a configurable ``root`` and, for cellular links, ``modem``. A fact this
machine lacks (no battery, no thermal zone, no modem) answers 5.03 with the reason, so a profile
written for a Raspberry Pi still runs, with gaps, on a laptop or in a container.

Facts are read when requested; ``poll_interval`` makes the binding re-read itself and notify
observers when the value moves (for a temperature observed with ``gt``/``lt``). The writable and
executable parts of the Device object live in ``clock`` and ``device_actions``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ServiceUnavailable
from ..core.model import ResourceType, Value
from ..tree.binding import ResourceContent
from . import linux_facts as facts
from .errors import HardwareConfigError
from .linux_facts import FactUnavailable
from .modem import ModemQuery, ModemStatus
from .polling import PolledBinding
from .readings import convert_value
from .ticker import Ticker


@dataclass(frozen=True, slots=True)
class FactContext:
    root: Path
    interface: str | None
    thermal_zone: str | None
    modem_command: tuple[str, ...]

    @property
    def modem(self) -> ModemQuery | None:
        return ModemQuery.shared(self.modem_command) if self.modem_command else None


FactValue = Value | dict[int, Value]
FactReader = Callable[[FactContext], Awaitable[FactValue]]


@dataclass(frozen=True, slots=True)
class Fact:
    """A readable system fact: how to read it, its natural type, what it is."""

    reader: FactReader
    rtype: ResourceType
    multiple: bool
    description: str


def _indexed(values: Sequence[Value]) -> dict[int, Value]:
    return dict(enumerate(values))


def _modem(ctx: FactContext) -> ModemQuery:
    modem = ctx.modem
    if modem is None:
        raise FactUnavailable("no modem query configured (modem_command is empty)")
    return modem


def _link_interface(ctx: FactContext) -> str:
    return ctx.interface if ctx.interface is not None else facts.default_interface(ctx.root)


async def _network_bearer(ctx: FactContext) -> int:
    name = _link_interface(ctx)
    bearer = facts.interface_bearer(ctx.root, name)
    modem = ctx.modem
    if bearer == facts.BEARER_LTE_FDD and modem is not None:
        try:
            modem_bearer = (await modem.status()).bearer
        except FactUnavailable:
            modem_bearer = None
        bearer = modem_bearer if modem_bearer is not None else bearer
    if bearer is None:
        raise FactUnavailable(f"interface {name} is of no network bearer type LwM2M knows")
    return bearer


async def _available_bearers(ctx: FactContext) -> dict[int, Value]:
    found: list[Value] = []
    for name in facts.interfaces(ctx.root):
        bearer = facts.interface_bearer(ctx.root, name)
        if bearer is not None and bearer not in found:
            found.append(bearer)
    if not found:
        raise FactUnavailable(f"no network interface of a known bearer in {ctx.root / 'sys/class/net'}")
    return _indexed(found)


async def _link_figure(
    ctx: FactContext, wireless_index: int, modem_figure: Callable[[ModemStatus], int | None], missing: str
) -> int:
    """One figure of the link in use: from the Wi-Fi driver on a WLAN, from the modem otherwise."""
    name = _link_interface(ctx)
    if facts.interface_bearer(ctx.root, name) == facts.BEARER_WLAN:
        return facts.wireless_link(ctx.root, name)[wireless_index]
    value = modem_figure(await _modem(ctx).status())
    if value is None:
        raise FactUnavailable(missing)
    return value


async def _signal_strength(ctx: FactContext) -> int:
    return await _link_figure(ctx, 1, lambda status: status.rssi_dbm,
                              "the modem reports no signal strength (enable it with mmcli --signal-setup)")


async def _link_quality(ctx: FactContext) -> int:
    return await _link_figure(ctx, 0, lambda status: status.signal_quality,
                              "the modem reports no signal quality")


async def _operator_part(ctx: FactContext, mcc: bool) -> int:
    code = (await _modem(ctx).status()).operator_code
    if code is None or len(code) < 5:
        raise FactUnavailable("the modem reports no operator code")
    return int(code[:3] if mcc else code[3:])


def _sync(function: Callable[[FactContext], FactValue]) -> FactReader:
    async def reader(ctx: FactContext) -> FactValue:
        return function(ctx)

    return reader


def _list(function: Callable[[FactContext], Sequence[Value]], what: str) -> FactReader:
    async def reader(ctx: FactContext) -> FactValue:
        values = function(ctx)
        if not values:
            raise FactUnavailable(f"no {what}")
        return _indexed(values)

    return reader


_S, _I, _F = ResourceType.STRING, ResourceType.INTEGER, ResourceType.FLOAT

FACTS: dict[str, Fact] = {
    "manufacturer": Fact(_sync(lambda c: facts.manufacturer(c.root)), _S, False,
                         "device-tree vendor, else DMI sys_vendor (3/0/0)"),
    "model": Fact(_sync(lambda c: facts.model(c.root)), _S, False,
                  "device-tree model, else DMI product (3/0/1)"),
    "serial_number": Fact(_sync(lambda c: facts.serial_number(c.root)), _S, False,
                          "device-tree serial, DMI serial or /proc/cpuinfo Serial (3/0/2)"),
    "firmware_version": Fact(_sync(lambda c: facts.os_release(c.root)), _S, False,
                             "PRETTY_NAME of /etc/os-release (3/0/3)"),
    "software_version": Fact(_sync(lambda c: facts.kernel_release(c.root)), _S, False,
                             "kernel release (3/0/19)"),
    "hardware_version": Fact(_sync(lambda c: facts.hardware_version(c.root)), _S, False,
                             "cpuinfo Revision, else DMI product version (3/0/18)"),
    "power_sources": Fact(_sync(lambda c: _indexed([code for code, _ in facts.power_sources(c.root)])),
                          _I, True, "LwM2M power source codes (3/0/6)"),
    "power_source_voltage": Fact(
        _list(lambda c: [s.voltage_mv for _, s in facts.power_sources(c.root)
                         if s is not None and s.voltage_mv is not None],
              "power supply reporting its voltage"),
        _I, True, "mV per power supply (3/0/7)"),
    "power_source_current": Fact(
        _list(lambda c: [s.current_ma for _, s in facts.power_sources(c.root)
                         if s is not None and s.current_ma is not None],
              "power supply reporting its current"),
        _I, True, "mA per power supply (3/0/8)"),
    "battery_level": Fact(_sync(lambda c: facts.battery_level(c.root)), _I, False, "percent (3/0/9)"),
    "battery_status": Fact(_sync(lambda c: facts.battery_status(c.root)), _I, False, "LwM2M code (3/0/20)"),
    "memory_free": Fact(_sync(lambda c: facts.memory_free_kib(c.root)), _I, False, "KiB available (3/0/10)"),
    "memory_total": Fact(_sync(lambda c: facts.memory_total_kib(c.root)), _I, False, "KiB (3/0/21)"),
    "uptime": Fact(_sync(lambda c: facts.uptime_seconds(c.root)), _I, False, "seconds since boot"),
    "cpu_temperature": Fact(_sync(lambda c: facts.cpu_temperature(c.root, c.thermal_zone)), _F, False,
                            "°C of the CPU thermal zone (3303/x/5700)"),
    "interfaces": Fact(_list(lambda c: list(facts.interfaces(c.root)), "network interface"), _S, True,
                       "names of the non-virtual network interfaces"),
    "network_bearer": Fact(_network_bearer, _I, False, "bearer of the default route's interface (4/0/0)"),
    "available_network_bearers": Fact(_available_bearers, _I, True, "bearers of all interfaces (4/0/1)"),
    "radio_signal_strength": Fact(_signal_strength, _I, False, "dBm, Wi-Fi or modem (4/0/2)"),
    "link_quality": Fact(_link_quality, _I, False, "Wi-Fi link quality or modem signal percent (4/0/3)"),
    "ip_addresses": Fact(_list(lambda c: facts.ip_addresses(c.root, c.interface), "IP address"), _S, True,
                         "IPv4 and global IPv6 addresses (4/0/4)"),
    "router_ip_addresses": Fact(_list(lambda c: facts.router_addresses(c.root, c.interface), "router"),
                                _S, True, "gateways of the routing table (4/0/5)"),
    "smnc": Fact(lambda c: _operator_part(c, mcc=False), _I, False, "serving MNC from the modem (4/0/9)"),
    "smcc": Fact(lambda c: _operator_part(c, mcc=True), _I, False, "serving MCC from the modem (4/0/10)"),
}


class SystemFact(PolledBinding):
    """A resource that reads one Linux system fact (a key of :data:`FACTS`).

    ``rtype`` converts the fact to the resource's type when it differs from the fact's own (a
    temperature into an Integer resource, a number into a String). ``interface`` restricts the
    network facts to one interface (default: all, or the default route's for bearer and signal);
    ``thermal_zone`` picks a zone by directory name or type; ``modem_command`` is how mmcli is
    run (empty: no modem facts).
    """

    def __init__(
        self,
        *,
        fact: str,
        root: str | Path = Path("/"),
        rtype: ResourceType | None = None,
        interface: str | None = None,
        thermal_zone: str | None = None,
        modem_command: Sequence[str] = ("mmcli", "-m", "any"),
        poll_interval: float | None = None,
        ticker: Ticker | None = None,
    ) -> None:
        super().__init__()
        found = FACTS.get(fact)
        if found is None:
            raise HardwareConfigError("fact", f"no system fact {fact!r}", "use one of: " + ", ".join(FACTS))
        self.fact = fact
        self._fact = found
        self.rtype = rtype if rtype is not None else found.rtype
        if self.rtype in (ResourceType.NONE, ResourceType.OPAQUE, ResourceType.OBJLNK):
            raise HardwareConfigError("rtype", f"fact {fact} cannot be a {self.rtype.value}",
                                      f"bind it to a {found.rtype.value} resource")
        if isinstance(modem_command, str):
            raise HardwareConfigError("modem_command", f"{modem_command!r} is not a list of arguments",
                                      'write it as a list, e.g. ["mmcli", "-m", "any"], or [] for no modem')
        self._context = FactContext(Path(root), interface, thermal_zone, tuple(modem_command))
        self.poll_changes(poll_interval, ticker)

    def __repr__(self) -> str:
        return f"SystemFact({self.fact!r})"

    @property
    def multiple(self) -> bool:
        return self._fact.multiple

    async def read(self) -> ResourceContent:
        try:
            value = await self._fact.reader(self._context)
        except FactUnavailable as exc:
            raise ServiceUnavailable(exc.reason) from None
        if isinstance(value, dict):
            return {k: convert_value(v, self.rtype, self.fact) for k, v in value.items()}
        return convert_value(value, self.rtype, self.fact)
