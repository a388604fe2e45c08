"""Who may talk to the agent: a source check in front of aiocoap's UDP message layer.

Without DTLS the only proof of who sends a datagram is its source address, so the agent serves
requests only from the address of the server it registered with (during a bootstrap: of the
bootstrap server, until Finish). The check must come before aiocoap keeps anything: its message
layer puts every request in a duplicate-detection cache for EXCHANGE_LIFETIME (~247 s) and its
block layer spools uploads, so a check in the site would come after a stranger already cost
memory. Here the check runs on the raw datagram, before it is even decoded: the UDP message
interface is aiocoap's own, with :meth:`GuardedUDP6.datagram_msg_received` wrapped.

A datagram that is not a request (a response, an ACK or RST) is let through from a peer the agent
sent something to recently: responses are matched against our own requests and hold no state.
Everything else from a stranger is dropped unanswered and counted (one summary line a minute).

Upstream behaviours answered around here, not forked (aiocoap 0.4.17): it decodes string options
(Uri-Path, Uri-Query...) eagerly and lets the ``UnicodeDecodeError`` of one that is not UTF-8
escape its receive callback, so such a request got no answer and a traceback; it now gets 4.02
Bad Option (RFC 7252 §5.4.1: an invalid value of a critical option is an unrecognised option). It
drops a message format error with a warning per datagram; a CON of that kind now gets the RST
RFC 7252 §4.2 asks for, and is counted. Its remaining per-datagram warnings pass a
:class:`~.incidents.LogThrottle` (one line per message per minute; the logger is aiocoap's, shared
by all contexts of a process, so in a fleet the counts go to the first agent's summary).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiocoap import Context
from aiocoap.numbers.constants import TransportTuning
from aiocoap.tokenmanager import TokenManager
from aiocoap.transports.udp6 import MessageInterfaceUDP6

from ..core.datagram import error_reply, peek, reset_reply
from .dedup import BoundedMessageManager
from .incidents import IncidentLog, LogThrottle

log = logging.getLogger(__name__)

Source = tuple[str, int]

# A peer we sent to may answer within EXCHANGE_LIFETIME; the map of such peers is bounded anyway.
_CONTACT_WINDOW = TransportTuning().EXCHANGE_LIFETIME
_MAX_CONTACTS = 256


def source_of(address: Any) -> Source | None:
    """``(host, port)`` of a socket address or an aiocoap remote; IPv4-mapped IPv6 shown as IPv4.

    Runs for every datagram, so it works on the text the kernel gives (already canonical) rather
    than parsing it; getaddrinfo's answers, which the allowed sets are made of, come the same way.
    """
    sockaddr = getattr(address, "sockaddr", address)
    try:
        host, port = str(sockaddr[0]), int(sockaddr[1])
    except (TypeError, ValueError, IndexError):
        return None
    host = host.partition("%")[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return (host, port)


async def resolve_sources(uri: str) -> set[Source]:
    """The addresses a ``coap://`` URI's host resolves to, with its port (empty when it does not resolve)."""
    try:
        parts = urlsplit(uri)
        port = parts.port or (5684 if parts.scheme == "coaps" else 5683)
        host = parts.hostname
    except ValueError:
        return set()
    if not host:
        return set()
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        log.warning("cannot resolve %s (%s); accepting its requests once it answered the Register", host, exc)
        return set()
    return {s for info in infos if (s := source_of(info[4])) is not None}


class SourceGuard:
    """The source check: ``accepts`` says whose requests are served; refusals are counted."""

    def __init__(self, accepts: Callable[[Source], bool], incidents: IncidentLog | None = None) -> None:
        self.accepts = accepts
        self.incidents = incidents or IncidentLog("datagrams not served")
        self._contacts: OrderedDict[Source, float] = OrderedDict()

    @property
    def refused(self) -> int:
        """Requests and other datagrams refused for their source."""
        return self.incidents["from a stranger"]

    def contacted(self, source: Source | None) -> None:
        """We sent to ``source``: its responses are welcome for a while."""
        if source is None:
            return
        self._contacts[source] = time.monotonic() + _CONTACT_WINDOW
        self._contacts.move_to_end(source)
        while len(self._contacts) > _MAX_CONTACTS:
            self._contacts.popitem(last=False)

    def admits(self, source: Source | None, is_request: bool) -> bool:
        if source is None:
            return False
        if self.accepts(source):
            return True
        if is_request:
            return False
        deadline = self._contacts.get(source)
        return deadline is not None and deadline >= time.monotonic()

    def refuse(self, source: object, kind: str = "from a stranger") -> None:
        self.incidents.note(kind, source)


class _GuardedManager:
    """What the UDP interface sees as its message manager: aiocoap's, plus the guard it must apply."""

    def __init__(self, manager: Any, guard: SourceGuard) -> None:
        self.manager = manager
        self.guard = guard
        # Set when aiocoap decoded a datagram and handed it on: it returns quietly when it could not.
        self.dispatched = False

    def dispatch_message(self, message: Any) -> None:
        self.dispatched = True
        self.manager.dispatch_message(message)

    def dispatch_error(self, error: Exception, remote: Any) -> None:
        self.manager.dispatch_error(error, remote)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.manager, name)


class GuardedUDP6(MessageInterfaceUDP6):
    """aiocoap's UDP interface with the source check and the undecodable-request answer in front."""

    _ctx: _GuardedManager

    def __init__(self, ctx: _GuardedManager, log: logging.Logger, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(ctx, log, loop)
        self._guard = ctx.guard

    def datagram_msg_received(self, data: bytes, ancdata: Any, flags: int, address: Any) -> None:
        header = peek(data)
        source = source_of(address)
        if header is None:
            self._guard.refuse(source, "not CoAP")
            return
        if not self._guard.admits(source, header.is_request):
            self._guard.refuse(source)
            return
        if header.is_format_error:
            self._reply(reset_reply(header), address)
            self._guard.incidents.note("format error (RST)", source)
            return
        self._ctx.dispatched = False
        try:
            super().datagram_msg_received(data, ancdata, flags, address)
        except UnicodeDecodeError:
            if header.is_request:
                self._reply(error_reply(header, (4, 2), "an option is not UTF-8"), address)
                self._guard.incidents.note("4.02 option not UTF-8", source)
            else:
                self._reply(reset_reply(header), address)
                self._guard.incidents.note("format error (RST)", source)
            return
        except Exception as exc:  # aiocoap already logged it; never let it close the socket
            self._guard.incidents.note(f"dispatch failed ({type(exc).__name__})", source)
            return
        if not self._ctx.dispatched:
            # aiocoap found a format error in the options (and said so in a throttled warning).
            self._reply(reset_reply(header), address)
            self._guard.incidents.note("format error (RST)", source)

    def send(self, message: Any) -> None:
        self._guard.contacted(source_of(message.remote))
        super().send(message)

    def _reply(self, reply: bytes | None, address: Any) -> None:
        if reply is None:
            return
        try:
            self.transport.sendmsg(reply, [], 0, address)
        except OSError as exc:
            self.log.debug("cannot answer %s: %s", address, exc)


async def create_guarded_server_context(site: object, bind: tuple[str, int], guard: SourceGuard) -> Context:
    """An aiocoap server context on UDP whose every incoming datagram passes ``guard`` first.

    It is what ``Context.create_server_context(site, bind, transports=["udp6"])`` builds, with
    :class:`GuardedUDP6` as the message interface and a bounded duplicate cache (dedup.py).
    """
    loop = asyncio.get_running_loop()
    context = Context(loop=loop, serversite=site, loggername="coap-server")
    if not any(isinstance(f, LogThrottle) for f in context.log.filters):
        context.log.addFilter(LogThrottle(guard.incidents))

    # What Context._append_tokenmanaged_messagemanaged_transport does, with our two classes.
    token_manager = TokenManager(context)
    message_manager = BoundedMessageManager(token_manager)
    transport = await GuardedUDP6.create_server_transport_endpoint(
        _GuardedManager(message_manager, guard), log=context.log, loop=loop, bind=bind, multicast=[])
    message_manager.message_interface = transport
    token_manager.token_interface = message_manager
    context.request_interfaces.append(token_manager)
    return context
