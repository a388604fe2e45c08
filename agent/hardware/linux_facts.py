"""Facts a Linux device tells about itself in /proc, /sys and /etc, read under a configurable root.

Each function reads one fact for the Device (3), Connectivity Monitoring (4) and Temperature (3303)
objects and raises :class:`FactUnavailable` with a reason when this machine does not have it (no
battery, no thermal zone, no device tree and no DMI). ``root`` is where ``/`` is: tests point it
at a fake tree, containers at the host's mounted /proc and /sys.

The parsing is split from the reading (``parse_*`` take text) so each format is tested on its own.
Values are in the units the LwM2M objects use: memory in KiB, voltages in mV, currents in mA,
temperatures in degrees Celsius, durations in seconds.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass
from pathlib import Path


class FactUnavailable(Exception):
    """The fact cannot be read on this machine right now; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_text(root: Path, relative: str) -> str:
    """A file's text under ``root`` (device-tree strings lose their trailing NULs), or FactUnavailable."""
    path = root / relative.lstrip("/")
    try:
        return path.read_bytes().decode(errors="replace").rstrip("\x00").strip()
    except OSError as exc:
        raise FactUnavailable(f"cannot read {path}: {exc.strerror or exc}") from None


def _first(root: Path, candidates: list[str], what: str) -> str:
    reasons = []
    for relative in candidates:
        try:
            text = read_text(root, relative)
        except FactUnavailable as exc:
            reasons.append(exc.reason)
            continue
        if text and text not in _DMI_PLACEHOLDERS:
            return text
        reasons.append(f"{root / relative.lstrip('/')} holds no real value")
    raise FactUnavailable(f"no {what} on this machine ({'; '.join(reasons)})")


# Firmware fills unset DMI fields with these; they identify nothing.
_DMI_PLACEHOLDERS = frozenset({
    "To be filled by O.E.M.", "To Be Filled By O.E.M.", "Default string", "System Product Name",
    "System manufacturer", "System Serial Number", "Not Specified", "None", "0", "0123456789",
})

# Device-tree vendor prefixes (the part before the comma in "compatible") worth a readable name.
_DT_VENDORS = {
    "raspberrypi": "Raspberry Pi", "brcm": "Broadcom", "rockchip": "Rockchip", "allwinner": "Allwinner",
    "nvidia": "NVIDIA", "fsl": "NXP", "nxp": "NXP", "ti": "Texas Instruments", "radxa": "Radxa",
    "friendlyarm": "FriendlyElec", "xunlong": "Xunlong (Orange Pi)", "hardkernel": "Hardkernel",
    "beagle": "BeagleBoard.org", "seeed": "Seeed Studio", "pine64": "Pine64", "st": "STMicroelectronics",
}


def parse_cpuinfo_field(text: str, name: str) -> str | None:
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == name and value.strip():
            return value.strip()
    return None


def _cpuinfo(root: Path, name: str) -> str:
    value = parse_cpuinfo_field(read_text(root, "proc/cpuinfo"), name)
    if value is None:
        raise FactUnavailable(f"no {name} line in {root / 'proc/cpuinfo'}")
    return value


def manufacturer(root: Path) -> str:
    try:
        compatible = read_text(root, "proc/device-tree/compatible")
    except FactUnavailable:
        return _first(root, ["sys/class/dmi/id/sys_vendor", "sys/class/dmi/id/board_vendor"], "manufacturer")
    vendor = compatible.split("\x00")[0].partition(",")[0]
    if not vendor:
        raise FactUnavailable(f"{root / 'proc/device-tree/compatible'} names no vendor")
    return _DT_VENDORS.get(vendor, vendor)


def model(root: Path) -> str:
    return _first(root, ["proc/device-tree/model", "sys/class/dmi/id/product_name",
                         "sys/class/dmi/id/board_name"], "model name")


def serial_number(root: Path) -> str:
    try:
        return _first(root, ["proc/device-tree/serial-number", "sys/class/dmi/id/product_serial",
                             "sys/class/dmi/id/board_serial"], "serial number")
    except FactUnavailable as first_failure:
        try:
            return _cpuinfo(root, "Serial")  # Raspberry Pi kernels put it here.
        except FactUnavailable:
            raise first_failure from None


def hardware_version(root: Path) -> str:
    try:
        return _cpuinfo(root, "Revision")
    except FactUnavailable:
        return _first(root, ["sys/class/dmi/id/product_version", "sys/class/dmi/id/board_version"],
                      "hardware version")


def parse_os_release(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[key.strip()] = value
    return values


def os_release(root: Path) -> str:
    for relative in ("etc/os-release", "usr/lib/os-release"):
        try:
            release = parse_os_release(read_text(root, relative))
        except FactUnavailable:
            continue
        name = release.get("PRETTY_NAME") or release.get("NAME")
        if name:
            return name
    raise FactUnavailable(f"no PRETTY_NAME in {root / 'etc/os-release'} or {root / 'usr/lib/os-release'}")


def kernel_release(root: Path) -> str:
    return read_text(root, "proc/sys/kernel/osrelease")


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo as KiB numbers by field name."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        parts = rest.split()
        if sep and parts and parts[0].isdigit():
            values[key.strip()] = int(parts[0])
    return values


def memory_free_kib(root: Path) -> int:
    info = parse_meminfo(read_text(root, "proc/meminfo"))
    # MemAvailable counts reclaimable cache, which is what "free for use" means to an operator.
    for key in ("MemAvailable", "MemFree"):
        if key in info:
            return info[key]
    raise FactUnavailable(f"no MemAvailable or MemFree in {root / 'proc/meminfo'}")


def memory_total_kib(root: Path) -> int:
    info = parse_meminfo(read_text(root, "proc/meminfo"))
    if "MemTotal" not in info:
        raise FactUnavailable(f"no MemTotal in {root / 'proc/meminfo'}")
    return info["MemTotal"]


def machine_id(root: Path) -> str:
    """systemd's /etc/machine-id: stable across reboots, unique per installation (not per clone)."""
    value = read_text(root, "etc/machine-id")
    if not value:
        raise FactUnavailable(f"{root / 'etc/machine-id'} is empty")
    return value


def uptime_seconds(root: Path) -> int:
    text = read_text(root, "proc/uptime")
    try:
        return int(float(text.split()[0]))
    except (ValueError, IndexError):
        raise FactUnavailable(f"{root / 'proc/uptime'} does not start with a number: {text[:40]!r}") from None


# ---- power supplies ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PowerSupply:
    """One entry of /sys/class/power_supply, with the attributes the Device object uses."""

    name: str
    type: str
    present: bool
    capacity: int | None
    capacity_level: str | None
    status: str | None
    health: str | None
    voltage_mv: int | None
    current_ma: int | None


def _optional(directory: Path, name: str) -> str | None:
    try:
        text = (directory / name).read_text(errors="replace").strip()
    except OSError:
        return None
    return text or None


def _optional_int(directory: Path, name: str) -> int | None:
    text = _optional(directory, name)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def power_supplies(root: Path) -> list[PowerSupply]:
    base = root / "sys/class/power_supply"
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return []
    supplies = []
    for entry in entries:
        voltage = _optional_int(entry, "voltage_now")
        current = _optional_int(entry, "current_now")
        present = _optional_int(entry, "present")
        supplies.append(PowerSupply(
            name=entry.name,
            type=_optional(entry, "type") or "Unknown",
            present=present != 0,
            capacity=_optional_int(entry, "capacity"),
            capacity_level=_optional(entry, "capacity_level"),
            status=_optional(entry, "status"),
            health=_optional(entry, "health"),
            voltage_mv=voltage // 1000 if voltage is not None else None,  # sysfs reports µV
            current_ma=current // 1000 if current is not None else None,  # and µA
        ))
    return supplies


# LwM2M 3/0/6 Available Power Sources codes for the kernel's supply types.
POWER_SOURCE_CODES = {"Battery": 1, "UPS": 2, "USB": 5, "Mains": 6}
DC_POWER = 0


def power_sources(root: Path) -> list[tuple[int, PowerSupply | None]]:
    """(LwM2M power-source code, supply) pairs; DC power when the kernel knows no supply.

    A board like a Raspberry Pi runs from a DC adapter the kernel cannot see, so "no supply listed"
    means DC power (code 0) rather than "unknown".
    """
    found: list[tuple[int, PowerSupply | None]] = [
        (POWER_SOURCE_CODES[s.type], s) for s in power_supplies(root)
        if s.type in POWER_SOURCE_CODES and s.present
    ]
    if not found:
        return [(DC_POWER, None)]
    return found


def battery(root: Path) -> PowerSupply:
    for supply in power_supplies(root):
        if supply.type == "Battery" and supply.present:
            return supply
    raise FactUnavailable(f"no battery in {root / 'sys/class/power_supply'}")


def battery_level(root: Path) -> int:
    supply = battery(root)
    if supply.capacity is None:
        raise FactUnavailable(f"battery {supply.name} reports no capacity")
    return max(0, min(100, supply.capacity))


_DAMAGED_HEALTH = frozenset({"Dead", "Over voltage", "Unspecified failure", "Overheat", "Cold",
                             "Watchdog timer expire", "Safety timer expire", "Over current"})


def battery_status(root: Path, low_percent: int = 10) -> int:
    """LwM2M 3/0/20: 0 normal, 1 charging, 2 charge complete, 3 damaged, 4 low, 5 not installed, 6 unknown."""
    try:
        supply = battery(root)
    except FactUnavailable:
        return 5
    if supply.health in _DAMAGED_HEALTH:
        return 3
    if supply.status == "Charging":
        return 1
    if supply.status == "Full":
        return 2
    if supply.capacity_level in ("Low", "Critical") or (
        supply.capacity is not None and supply.capacity <= low_percent
    ):
        return 4
    if supply.status in ("Discharging", "Not charging"):
        return 0
    return 6


# ---- temperature ------------------------------------------------------------------------------

_CPU_ZONE_TYPES = ("cpu-thermal", "cpu_thermal", "x86_pkg_temp", "soc_thermal", "soc-thermal")


def thermal_zones(root: Path) -> list[tuple[str, str]]:
    """(zone directory name, zone type) for every thermal zone, in zone-number order."""
    base = root / "sys/class/thermal"
    try:
        names = [p.name for p in base.iterdir() if p.name.startswith("thermal_zone")]
    except OSError:
        return []
    names.sort(key=lambda n: int(n[len("thermal_zone"):]) if n[len("thermal_zone"):].isdigit() else 1 << 30)
    return [(n, _optional(base / n, "type") or "") for n in names]


def cpu_temperature(root: Path, zone: str | None = None) -> float:
    """The CPU's temperature in °C: the named zone (directory or type), else the CPU-looking one."""
    zones = thermal_zones(root)
    if not zones:
        raise FactUnavailable(f"no thermal zone in {root / 'sys/class/thermal'}")
    chosen: str | None = None
    if zone is not None:
        chosen = next((n for n, t in zones if zone in (n, t)), None)
        if chosen is None:
            raise FactUnavailable(f"no thermal zone {zone!r} in {root / 'sys/class/thermal'} "
                                  f"(there are: {', '.join(f'{n} ({t})' for n, t in zones)})")
    else:
        chosen = next((n for n, t in zones if t in _CPU_ZONE_TYPES), None)
        chosen = chosen or next((n for n, t in zones if "cpu" in t.lower()), zones[0][0])
    text = read_text(root, f"sys/class/thermal/{chosen}/temp")
    try:
        return int(text) / 1000.0  # millidegrees
    except ValueError:
        raise FactUnavailable(f"{root / 'sys/class/thermal' / chosen / 'temp'} holds {text[:20]!r}") from None


# ---- network ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Route:
    interface: str
    destination: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address | None
    metric: int


def _hex_ipv4(text: str) -> ipaddress.IPv4Address:
    # /proc/net/route prints addresses as the host-order hex of a network-order int.
    return ipaddress.IPv4Address(socket.inet_ntoa(struct.pack("<I", int(text, 16))))


RTF_UP = 0x1
RTF_GATEWAY = 0x2


def parse_routes(text: str) -> list[Route]:
    routes = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 8:
            continue
        try:
            flags = int(parts[3], 16)
            destination = _hex_ipv4(parts[1])
            mask = _hex_ipv4(parts[7])
            gateway = _hex_ipv4(parts[2])
            metric = int(parts[6])
            network = ipaddress.IPv4Network(f"{destination}/{mask}", strict=False)
        except (ValueError, struct.error):
            continue
        if flags & RTF_UP:
            routes.append(Route(parts[0], network, gateway if flags & RTF_GATEWAY else None, metric))
    return routes


def routes(root: Path) -> list[Route]:
    return parse_routes(read_text(root, "proc/net/route"))


def parse_ipv6_default_routers(text: str) -> list[tuple[str, ipaddress.IPv6Address]]:
    """(interface, next hop) of the IPv6 default routes in /proc/net/ipv6_route."""
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 10 or parts[1] != "00" or parts[0].strip("0"):
            continue
        try:
            hop = ipaddress.IPv6Address(bytes.fromhex(parts[4]))
        except ValueError:
            continue
        if not hop.is_unspecified:
            found.append((parts[9], hop))
    return found


def router_addresses(root: Path, interface: str | None = None) -> list[str]:
    """Gateways of the IPv4 routes and IPv6 default routes (of ``interface`` when given)."""
    found: list[str] = []
    try:
        v4_routes = routes(root)
    except FactUnavailable:
        v4_routes = []
    for route in v4_routes:
        gateway = str(route.gateway)
        if route.gateway is not None and interface in (None, route.interface) and gateway not in found:
            found.append(gateway)
    try:
        v6 = parse_ipv6_default_routers(read_text(root, "proc/net/ipv6_route"))
    except FactUnavailable:
        v6 = []
    for name, hop in v6:
        if interface in (None, name) and str(hop) not in found:
            found.append(str(hop))
    if not found:
        where = f" for {interface}" if interface is not None else ""
        raise FactUnavailable(f"no router{where} in {root / 'proc/net/route'} or {root / 'proc/net/ipv6_route'}")
    return found


def parse_fib_trie_local(text: str) -> list[ipaddress.IPv4Address]:
    """The host's own IPv4 addresses: the ``/32 host LOCAL`` leaves of /proc/net/fib_trie."""
    found: list[ipaddress.IPv4Address] = []
    last: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|--"):
            last = stripped[3:].strip()
        elif stripped.startswith("/32 host LOCAL") and last is not None:
            try:
                address = ipaddress.IPv4Address(last)
            except ValueError:
                continue
            if address not in found:
                found.append(address)
    return found


def parse_if_inet6(text: str) -> list[tuple[str, ipaddress.IPv6Address, int]]:
    """(interface, address, scope) from /proc/net/if_inet6."""
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 6:
            continue
        try:
            found.append((parts[5], ipaddress.IPv6Address(bytes.fromhex(parts[0])), int(parts[3], 16)))
        except ValueError:
            continue
    return found


def ip_addresses(root: Path, interface: str | None = None) -> list[str]:
    """The device's IPv4 and global IPv6 addresses, loopback and link-local left out.

    /proc names no interface for IPv4 addresses; an address belongs to the interface whose directly
    connected route contains it.
    """
    found: list[str] = []
    try:
        v4 = parse_fib_trie_local(read_text(root, "proc/net/fib_trie"))
    except FactUnavailable:
        v4 = []
    try:
        connected = [r for r in routes(root) if r.gateway is None] if v4 else []
    except FactUnavailable:
        connected = []
    for address in v4:
        if address.is_loopback:
            continue
        owners = [r.interface for r in connected if address in r.destination]
        if interface is None or interface in owners:
            found.append(str(address))
    try:
        v6 = parse_if_inet6(read_text(root, "proc/net/if_inet6"))
    except FactUnavailable:
        v6 = []
    for name, address6, scope in v6:
        if address6.is_loopback or address6.is_link_local or scope != 0:
            continue
        if interface in (None, name):
            found.append(str(address6))
    if not found:
        where = f" on {interface}" if interface is not None else ""
        raise FactUnavailable(f"no IP address{where} in {root / 'proc/net/fib_trie'} "
                              f"or {root / 'proc/net/if_inet6'}")
    return found


# LwM2M 4/0/0 network bearer codes.
BEARER_LTE_FDD = 6
BEARER_WLAN = 21
BEARER_BLUETOOTH = 22
BEARER_802_15_4 = 23
BEARER_ETHERNET = 41

_VIRTUAL_PREFIXES = ("lo", "ifb", "veth", "docker", "br-", "virbr", "dummy", "tun", "tap", "wg", "sit",
                     "ip6tnl", "gre", "bond", "team", "vxlan", "cni", "flannel", "cali", "zt")
_CELLULAR_PREFIXES = ("wwan", "ppp", "rmnet", "usb", "wwp", "cdc-wdm")
_ARPHRD_ETHER = 1
_ARPHRD_PPP = 512
_ARPHRD_RAWIP = 519
_ARPHRD_6LOWPAN = 825


def interfaces(root: Path) -> list[str]:
    """Network interfaces that carry traffic off the device (loopback and virtual ones left out)."""
    base = root / "sys/class/net"
    try:
        names = sorted(p.name for p in base.iterdir())
    except OSError as exc:
        raise FactUnavailable(f"cannot list {base}: {exc.strerror or exc}") from None
    return [n for n in names if not n.startswith(_VIRTUAL_PREFIXES)]


def interface_bearer(root: Path, name: str) -> int | None:
    """The LwM2M bearer code of an interface, or None if it is of no kind LwM2M names."""
    directory = root / "sys/class/net" / name
    if (directory / "wireless").exists() or (directory / "phy80211").exists():
        return BEARER_WLAN
    uevent = _optional(directory, "uevent") or ""
    kind = _optional_int(directory, "type")
    cellular_kind = kind in (_ARPHRD_PPP, _ARPHRD_RAWIP)
    if "DEVTYPE=wwan" in uevent or cellular_kind or name.startswith(_CELLULAR_PREFIXES):
        # Cellular; without the modem's word on the access technology, LTE (what IoT modems use).
        return BEARER_LTE_FDD
    if "DEVTYPE=bluetooth" in uevent or name.startswith("bnep"):
        return BEARER_BLUETOOTH
    if kind == _ARPHRD_6LOWPAN or name.startswith(("lowpan", "wpan")):
        return BEARER_802_15_4
    if kind == _ARPHRD_ETHER:
        return BEARER_ETHERNET
    return None


def default_interface(root: Path) -> str:
    """The interface of the IPv4 default route with the lowest metric."""
    defaults = [r for r in routes(root) if r.destination.prefixlen == 0]
    if not defaults:
        raise FactUnavailable(f"no default route in {root / 'proc/net/route'}")
    return min(defaults, key=lambda r: r.metric).interface


def parse_wireless(text: str) -> dict[str, tuple[int, int]]:
    """/proc/net/wireless as interface -> (link quality, signal level in dBm)."""
    found: dict[str, tuple[int, int]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        parts = rest.split()
        if not sep or len(parts) < 3:
            continue
        try:
            found[name.strip()] = (int(float(parts[1])), int(float(parts[2])))
        except ValueError:
            continue
    return found


def wireless_link(root: Path, name: str) -> tuple[int, int]:
    """(link quality, signal level dBm) of a Wi-Fi interface."""
    stats = parse_wireless(read_text(root, "proc/net/wireless"))
    if name not in stats:
        raise FactUnavailable(f"{name} has no entry in {root / 'proc/net/wireless'}")
    return stats[name]
