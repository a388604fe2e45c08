"""Watching the host's network for changes the agent must tell its server about.

A gateway that moves to another uplink (Wi-Fi to LTE, a modem that reconnects with a new address)
sends from a new source address, and the server goes on sending to the old one until the agent's
next Update -- up to 90 % of the lifetime later. The kernel announces such changes on rtnetlink, so
the agent listens there and sends an Update at once (over DTLS after a new handshake: a session is
bound to its address).

The socket is a raw ``AF_NETLINK``/``NETLINK_ROUTE`` one joined to the link, IPv4/IPv6 address and
route multicast groups; it needs no privilege and no dependency. A burst of messages (an interface
coming up brings a link, addresses and routes) is debounced into one callback. Where there is no
netlink (not Linux, or a sandbox without it) the watcher logs once and does nothing: the agent then
relies on its periodic Updates and the probe.

:func:`parse_messages` (pure, no I/O) reads the netlink stream; a malformed or truncated message ends
the parse of that datagram instead of raising, as the kernel's own parser does.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# <linux/rtnetlink.h>
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
RTMGRP_IPV6_IFADDR = 0x100
RTMGRP_IPV6_ROUTE = 0x400
GROUPS = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE

RTM_NEWLINK, RTM_DELLINK = 16, 17
RTM_NEWADDR, RTM_DELADDR = 20, 21
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
NLMSG_DONE = 3
IFA_ADDRESS, IFA_LOCAL = 1, 2

_KINDS = {
    RTM_NEWLINK: ("link", True), RTM_DELLINK: ("link", False),
    RTM_NEWADDR: ("address", True), RTM_DELADDR: ("address", False),
    RTM_NEWROUTE: ("route", True), RTM_DELROUTE: ("route", False),
}

_NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefix length, flags, scope, interface index
_RTATTR = struct.Struct("=HH")  # length, type

DEBOUNCE = 0.5  # seconds: one callback for a burst


@dataclass(frozen=True)
class NetworkEvent:
    """One change: ``kind`` is link, address or route; ``added`` is False for a removal."""

    kind: str
    added: bool
    address: str | None = None  # for an address event, when the message carried one
    interface: int | None = None

    def __str__(self) -> str:
        what = f"{self.kind} {'added' if self.added else 'removed'}"
        if self.address:
            what += f" {self.address}"
        if self.interface is not None:
            what += f" on interface {self.interface}"
        return what


def _align(n: int) -> int:
    return (n + 3) & ~3


def parse_messages(data: bytes) -> list[NetworkEvent]:
    """The link, address and route events in one netlink datagram; other message types are skipped."""
    events: list[NetworkEvent] = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, mtype, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            break
        body = data[offset + _NLMSGHDR.size: offset + length]
        kind = _KINDS.get(mtype)
        if kind is not None:
            address, interface = _address_of(body) if kind[0] == "address" else (None, None)
            events.append(NetworkEvent(kind[0], kind[1], address, interface))
        elif mtype == NLMSG_DONE:
            break
        offset += _align(length)
    return events


def _address_of(body: bytes) -> tuple[str | None, int | None]:
    """The address (IFA_LOCAL, else IFA_ADDRESS) and interface index of an ifaddrmsg."""
    if len(body) < _IFADDRMSG.size:
        return None, None
    family, _prefix, _flags, _scope, index = _IFADDRMSG.unpack_from(body)
    found: dict[int, str] = {}
    offset = _IFADDRMSG.size
    while offset + _RTATTR.size <= len(body):
        length, rtype = _RTATTR.unpack_from(body, offset)
        if length < _RTATTR.size or offset + length > len(body):
            break
        value = body[offset + _RTATTR.size: offset + length]
        if rtype in (IFA_ADDRESS, IFA_LOCAL):
            if family == socket.AF_INET and len(value) == 4:
                found[rtype] = str(ipaddress.IPv4Address(value))
            elif family == socket.AF_INET6 and len(value) == 16:
                found[rtype] = str(ipaddress.IPv6Address(value))
        offset += _align(length)
    return found.get(IFA_LOCAL) or found.get(IFA_ADDRESS), index


class NetworkWatch:
    """Calls ``on_change(events)`` (debounced) when links, addresses or routes of the host change."""

    def __init__(self, on_change: Callable[[list[NetworkEvent]], None], debounce: float = DEBOUNCE) -> None:
        self.on_change = on_change
        self.debounce = debounce
        self.changes = 0
        self._sock: socket.socket | None = None
        self._pending: list[NetworkEvent] = []
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> bool:
        """Join the rtnetlink groups; False (logged) where the host has no netlink."""
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        except (AttributeError, OSError) as exc:
            log.info("not watching the network (no rtnetlink: %s); relying on periodic Updates", exc)
            return False
        try:
            sock.bind((0, GROUPS))
            sock.setblocking(False)
            asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)
        except OSError as exc:
            sock.close()
            log.info("not watching the network (rtnetlink refused: %s); relying on periodic Updates", exc)
            return False
        self._sock = sock
        return True

    def _readable(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # ENOBUFS: we missed some; a change happened all the same
                log.debug("netlink: %s", exc)
                self._pending.append(NetworkEvent("link", True))
                break
            self._pending.extend(parse_messages(data))
        if self._pending and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.debounce, self._fire)

    def _fire(self) -> None:
        self._timer = None
        events, self._pending = self._pending, []
        if events:
            self.changes += 1
            self.on_change(events)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
