"""The endpoint client name: stable across reboots and unique per device, or a warning that it is not.

Soracom Inventory (and LwM2M servers generally) treat the endpoint name as the device's identity: a
second device that registers with the same name *becomes* the first one, and a device whose name
changes at boot appears as a new device and leaves a ghost behind. So the default name is built
from what identifies the hardware: its serial number, else the hostname plus the MAC address of
the interface that carries the default route, else the systemd machine id. Templates in a profile
may use the same facts: ``{serial}``, ``{mac}``, ``{hostname}``, ``{machine_id}``.

A name that can change between boots (a random MAC, a random fallback) or that other devices may
share (a hostname alone, a fixed string in a profile copied to a fleet) comes with a warning.
Facts are read from /proc, /sys and /etc under ``root`` (tests point it at a fake tree).
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..hardware import linux_facts
from ..hardware.linux_facts import FactUnavailable

PLACEHOLDERS = ("hostname", "serial", "mac", "machine_id")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# /sys/class/net/<if>/addr_assign_type: 1 = random (changes at each boot), 3 = set by userspace.
_RANDOM_ASSIGN = "1"


@dataclass(frozen=True, slots=True)
class EndpointName:
    """A resolved endpoint name and, when it is not a stable unique identity, why not."""

    name: str
    warning: str | None = None

    def __str__(self) -> str:
        return self.name


class TemplateError(ValueError):
    """An endpoint template that cannot be resolved: ``reason`` and ``fix`` for a ProfileError."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


def _clean(text: str) -> str:
    return _NAME_UNSAFE.sub("-", text.strip()).strip("-")


def hostname() -> str:
    return _clean(socket.gethostname())


def serial(root: Path) -> str:
    """The hardware serial number (device tree, DMI or /proc/cpuinfo), or FactUnavailable."""
    value = _clean(linux_facts.serial_number(root))
    if not value:
        raise FactUnavailable("the serial number is empty")
    return value


def _mac_interface(root: Path) -> str:
    try:
        return linux_facts.default_interface(root)
    except FactUnavailable:
        for name in linux_facts.interfaces(root):
            if _read_mac(root, name) is not None:
                return name
        raise FactUnavailable("no default route and no network interface with a MAC address") from None


def _read_mac(root: Path, interface: str) -> str | None:
    try:
        text = linux_facts.read_text(root, f"sys/class/net/{interface}/address").lower()
    except FactUnavailable:
        return None
    digits = text.replace(":", "")
    if len(digits) != 12 or not all(c in "0123456789abcdef" for c in digits) or set(digits) == {"0"}:
        return None
    return digits


def mac(root: Path) -> tuple[str, str | None]:
    """The MAC (12 hex digits) of the default route's interface, with a warning if it is random."""
    interface = _mac_interface(root)
    value = _read_mac(root, interface)
    if value is None:
        raise FactUnavailable(f"interface {interface} has no MAC address")
    warning = None
    try:
        if linux_facts.read_text(root, f"sys/class/net/{interface}/addr_assign_type") == _RANDOM_ASSIGN:
            warning = (f"the MAC address of {interface} is random (addr_assign_type 1) and can change at "
                       "every boot")
    except FactUnavailable:
        pass
    return value, warning


def machine_id(root: Path) -> str:
    value = _clean(linux_facts.machine_id(root))
    if not value:
        raise FactUnavailable(f"{root / 'etc/machine-id'} has nothing usable in a name")
    return value


def default_endpoint_name(*, root: Path = Path("/")) -> EndpointName:
    """The name a device registers with when its profile names none.

    The hardware serial number when there is one; else ``<hostname>-<mac>``; else
    ``<hostname>-<machine id>``; else the hostname or a random name, with a warning.
    """
    try:
        return EndpointName(serial(root))
    except FactUnavailable:
        pass
    host = hostname()
    try:
        address, warning = mac(root)
        return EndpointName(f"{host}-{address}" if host else address, warning)
    except FactUnavailable:
        pass
    try:
        ident = machine_id(root)
        return EndpointName(f"{host}-{ident}" if host else ident,
                            "the name comes from /etc/machine-id, which devices cloned from one disk image "
                            "share unless it is regenerated at first boot")
    except FactUnavailable:
        pass
    if host and host != "localhost":
        return EndpointName(host, f"the name is the hostname {host!r} alone, which other devices may share")
    name = f"lwm2m-{uuid.uuid4().hex[:12]}"
    return EndpointName(name, "no serial number, MAC address, machine id or hostname: the name is random and "
                              "changes at every start")


def resolve_endpoint_template(template: str, *, root: Path = Path("/")) -> EndpointName:
    """Fill ``{serial}``, ``{mac}``, ``{hostname}`` and ``{machine_id}``; TemplateError if one is missing."""
    if template.count("{") != template.count("}") or "{}" in template:
        raise TemplateError(f"endpoint {template!r} has unmatched or empty braces",
                            "write placeholders as {serial}, {mac}, {hostname} or {machine_id}")
    used = _PLACEHOLDER.findall(template)
    unknown = [name for name in used if name not in PLACEHOLDERS]
    if unknown:
        raise TemplateError(f"endpoint {template!r} uses an unknown placeholder {{{unknown[0]}}}",
                            "use {serial}, {mac}, {hostname} or {machine_id}")
    warnings: list[str] = []

    def fill(name: str) -> str:
        readers: dict[str, Callable[[], str]] = {
            "hostname": hostname, "serial": lambda: serial(root), "machine_id": lambda: machine_id(root),
        }
        if name == "mac":
            value, warning = mac(root)
            if warning:
                warnings.append(warning)
            return value
        return readers[name]()

    values: dict[str, str] = {}
    for name in used:
        if name in values:
            continue
        try:
            values[name] = fill(name)
        except FactUnavailable as exc:
            raise TemplateError(f"endpoint {template!r} needs {{{name}}}, which this machine does not have "
                                f"({exc.reason})",
                                "use another placeholder ({mac} or {machine_id}), or leave endpoint out for "
                                "the default name") from None
    name = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    if not name or _NAME_UNSAFE.search(name):
        raise TemplateError(f"endpoint {name!r} is empty or has characters other than letters, digits, '.', "
                            "'_' and '-'", "use only those characters in the endpoint name")
    if not set(used) & {"serial", "mac", "machine_id"}:
        if "hostname" in used:
            warnings.append("the name derives from the hostname alone, which can change and which other devices "
                            "may share; add {serial} or {mac}")
        else:
            warnings.append(f"the name {name!r} is fixed: every device using this profile registers as the same "
                            "device; add {serial} or {mac}")
    return EndpointName(name, "; ".join(warnings) or None)
