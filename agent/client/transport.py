"""How the agent reaches its LwM2M servers: plain UDP for ``coap://``, DTLS 1.2 PSK for ``coaps://``.

Leshan keeps its transports (``leshan-client-californium``) apart from the registration engine and
the request handlers; so does this module. The engine and bootstrap hand it messages and get back a
response or :class:`ExchangeFailed`, whose ``cause`` is one line a person can act on ("the server
sent DTLS alert decrypt_error: wrong key for identity d-..."), never the key.

Everything runs on one aiocoap context, which is also the agent's server side: the UDP socket the
agent registers from is the socket it serves on (a server reaches a device behind NAT only there),
and a DTLS session the agent opened carries the server's Read/Write/Observe back to the agent's site.

DTLS comes from aiocoap's ``tinydtls`` client transport (DTLSSocket, TLS_PSK_WITH_AES_128_CCM_8).
Two of its habits shape this module:

* aiocoap keeps DTLS connections in a ``WeakValueDictionary``: once nothing refers to a connection
  it is collected and closed without a close_notify, and the server's next request goes nowhere. The
  link therefore holds the connection of its server for as long as it is in use.
* A session the server has forgotten (it restarted, a NAT binding expired) is not noticed by the
  client: requests just go unanswered. :meth:`ServerLink.reset` shuts the connection down, so the next
  request shakes hands again, from a new local port.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from urllib.parse import urlsplit

from aiocoap import EMPTY, GET, Context, Message
from aiocoap.error import Error as CoapError
from aiocoap.interfaces import EndpointAddress
from aiocoap.numbers.constants import TransportTuning
from aiocoap.transports import tinydtls  # imports DTLSSocket only when a connection starts

from .guard import SourceGuard, create_guarded_server_context

log = logging.getLogger(__name__)

# aiocoap sets SO_REUSEPORT on its UDP sockets, and Linux then hands the same ephemeral port to two
# sockets bound to port 0 -- two agents of one fleet (or an agent and a test server) would split
# each other's datagrams. Each agent owns its socket, so the option buys nothing; aiocoap reads
# this variable (its documented override) when it binds.
os.environ.setdefault("AIOCOAP_REUSE_PORT", "0")

DTLS_INSTALL_HINT = ("coaps:// needs DTLS, which comes from DTLSSocket (tinydtls); install it with "
                     "`sudo apt-get install -y autoconf automake gcc python3-dev` and then "
                     "`pip install 'aiocoap[tinydtls]'` in the agent's environment")

# RFC 5246 §7.2 and RFC 4279 §2 alert descriptions, with what each means for a PSK client.
_ALERTS: dict[int, str] = {
    0: "close_notify: the server closed the session",
    10: "unexpected_message",
    20: "bad_record_mac: the PSK key does not match the identity",
    40: "handshake_failure: the server accepts none of the offered cipher suites or refused the key",
    47: "illegal_parameter",
    50: "decode_error",
    51: "decrypt_error: the PSK key does not match the identity",
    70: "protocol_version: the server does not speak DTLS 1.2",
    80: "internal_error (on the server)",
    115: "unknown_psk_identity: the server does not know this identity",
}


# What a failed exchange raises: aiocoap's errors, the socket's, and the DTLS alerts aiocoap passes on.
_EXCHANGE_ERRORS: tuple[type[Exception], ...] = (
    CoapError, OSError, TimeoutError, tinydtls.FatalDTLSError, tinydtls.CloseNotifyReceived)


def dtls_available() -> bool:
    try:
        import DTLSSocket  # noqa: F401
    except ImportError:
        return False
    return True


class DtlsUnavailable(Exception):
    """A ``coaps://`` server was asked for and this Python has no DTLSSocket."""

    def __init__(self) -> None:
        super().__init__(DTLS_INSTALL_HINT)


class ExchangeFailed(Exception):
    """A request to the server got no response; ``cause`` says why in words, ``auth`` if DTLS refused us."""

    def __init__(self, server_uri: str, cause: str, *, auth: bool = False, answered: bool = False) -> None:
        super().__init__(f"{server_uri}: {cause}")
        self.server_uri = server_uri
        self.cause = cause
        self.auth = auth
        # False when nothing came back at all (a silent DTLS refusal looks the same as a server that
        # is down); the registration engine then probes for the server's return.
        self.answered = answered


def local_port(context: Context) -> int:
    """The UDP port an aiocoap context's plain UDP transport is bound to."""
    for interface in context.request_interfaces:
        message_interface = getattr(getattr(interface, "token_interface", None), "message_interface", None)
        if message_interface is not None and hasattr(message_interface, "_local_port"):
            return int(message_interface._local_port())
    raise RuntimeError("context has no UDP transport")


class ServerLink:
    """The agent's socket, and the DTLS session (if any) to the one server it currently talks to."""

    def __init__(self, context: Context, dtls: bool) -> None:
        self.context = context
        self.dtls = dtls
        self.server_uri: str | None = None
        self.identity: bytes = b""
        self._connection: EndpointAddress | None = None
        self.handshakes = 0

    @classmethod
    async def open(cls, site: object, bind_host: str = "::", bind_port: int = 0,
                   guard: SourceGuard | None = None) -> ServerLink:
        """Bind the agent's UDP socket (serving ``site``, behind ``guard``) and, where DTLSSocket
        exists, the DTLS client transport."""
        dtls = dtls_available()
        if guard is None:
            context = await Context.create_server_context(site, bind=(bind_host, bind_port), transports=["udp6"])
        else:
            context = await create_guarded_server_context(site, (bind_host, bind_port), guard)
        if dtls:
            # What Context.create_server_context does for "tinydtls"; requests a server sends over a
            # session the agent opened reach ``site`` through it (the session is its own check).
            await context._append_tokenmanaged_messagemanaged_transport(
                lambda manager: tinydtls.MessageInterfaceTinyDTLS.create_client_transport_endpoint(
                    manager, log=context.log, loop=asyncio.get_running_loop()))
        return cls(context, dtls)

    @property
    def port(self) -> int:
        return local_port(self.context)

    def use_server(self, server_uri: str, identity: bytes = b"", key: bytes = b"") -> None:
        """Talk to ``server_uri`` from now on; for ``coaps://``, with the PSK ``identity`` and ``key``."""
        self.reset()
        self.server_uri = server_uri
        self.identity = identity
        if urlsplit(server_uri).scheme != "coaps":
            return
        if not self.dtls:
            raise DtlsUnavailable()
        if not identity or not key:
            raise ExchangeFailed(server_uri, "coaps:// needs a PSK identity and key, and the account has none",
                                 auth=True)
        pattern = f"{server_uri.rstrip('/')}/*"
        self.context.client_credentials.load_from_dict({pattern: {"dtls": {"psk": key, "client-identity": identity}}})

    @property
    def secure(self) -> bool:
        return self.server_uri is not None and urlsplit(self.server_uri).scheme == "coaps"

    def is_server_session(self, remote: object) -> bool:
        """True when ``remote`` is the DTLS session this link opened to its server."""
        return self._connection is not None and remote is self._connection

    async def request(self, message: Message) -> Message:
        """Send ``message`` (its URI names the server) and wait for the response."""
        uri = self.server_uri or "the server"
        try:
            await self._resolve(message)
            return await self.context.request(message).response
        except asyncio.CancelledError:
            raise
        except _EXCHANGE_ERRORS as exc:
            failure = self._failure(uri, exc)
            if self.secure:
                self.reset()
            raise failure from None

    async def _resolve(self, message: Message) -> object:
        """Fill in ``message.remote`` and return its request interface, holding a new DTLS connection.

        Resolving the remote first gives the DTLS connection (and starts its handshake), so the link
        can hold it: without a strong reference aiocoap would drop the session.
        """
        interface = await self.context.find_remote_and_interface(message)
        if self.secure and message.remote is not self._connection:
            self._connection = message.remote
            self.handshakes += 1
        return interface

    async def ping(self, timeout: float) -> bool:
        """CoAP ping (RFC 7252 §4.3): an empty CON the server answers with RST. True when it did.

        The ping leaves from the agent's own socket (over DTLS, inside the session: a new one when
        the last ping went unanswered), so an answer also means the path the agent registers over
        works. It is sent once: a lost ping is simply followed by the next one.
        """
        if self.server_uri is None:
            return False
        answered = await self._ping_once(timeout)
        if not answered and self.secure:
            self.reset()
        return answered

    async def _ping_once(self, timeout: float) -> bool:
        assert self.server_uri is not None
        probe = Message(code=GET, uri=self.server_uri)  # resolves the remote; the ping itself is empty
        try:
            interface = await self._resolve(probe)
            manager = getattr(interface, "token_interface", None)
            if manager is None or not hasattr(manager, "send_message"):
                return False
            ping = Message(code=EMPTY, transport_tuning=_PingTuning(timeout))
            ping.remote = probe.remote
            answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            # aiocoap calls the monitor only for a RST; a ping that times out goes unreported here.
            manager.send_message(ping, functools.partial(_settle, answered))
            async with asyncio.timeout(timeout):
                await answered
            return True
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            return False
        except Exception as exc:  # a probe that cannot be sent is a probe unanswered
            log.debug("ping to %s not sent: %r", self.server_uri, exc)
            return False

    def _failure(self, uri: str, exc: BaseException) -> ExchangeFailed:
        alert = _dtls_alert(exc)
        if alert is not None:
            name, _, meaning = _ALERTS.get(alert, f"alert {alert}").partition(": ")
            who = f" to identity {self.identity.decode(errors='replace')}" if alert else ""
            return ExchangeFailed(uri, f"the server sent DTLS alert {name}{who}" + (f": {meaning}" if meaning else ""),
                                  auth=alert != 0, answered=True)
        if self.secure and self._connection is not None and not _handshake_done(self._connection):
            return ExchangeFailed(
                uri, f"no DTLS handshake completed with identity {self.identity.decode(errors='replace')}: the server "
                     "refused the identity or key without an alert, or does not answer DTLS on that port", auth=True)
        if isinstance(exc, OSError):
            return ExchangeFailed(uri, f"network error: {exc.strerror or exc}")
        if self.secure:
            return ExchangeFailed(uri, "no answer over the DTLS session (the server may have lost it); "
                                       "the next request shakes hands again")
        return ExchangeFailed(uri, f"no answer ({type(exc).__name__})")

    def reset(self) -> None:
        """Shut the DTLS session down, so that the next request opens a new one."""
        connection, self._connection = self._connection, None
        if connection is not None:
            shutdown = getattr(connection, "shutdown", None)
            if shutdown is not None:
                with contextlib.suppress(Exception):
                    shutdown()

    async def close(self) -> None:
        self.reset()
        await self.context.shutdown()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _PingTuning(TransportTuning):
    """One transmission; the exchange ends (unanswered) right after the caller stopped waiting."""

    def __init__(self, timeout: float) -> None:
        self.ACK_TIMEOUT = timeout
        self.ACK_RANDOM_FACTOR = 1.0
        self.MAX_RETRANSMIT = 0
        self.reliability = True  # confirmable: an empty CON is what a ping is


def _dtls_alert(exc: BaseException) -> int | None:
    """The alert code of a fatal DTLS alert somewhere in ``exc``'s chain, 0 for close_notify."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, tinydtls.FatalDTLSError):
            return int(seen.args[0]) if seen.args else 40
        if isinstance(seen, tinydtls.CloseNotifyReceived):
            return 0
        seen = seen.__cause__ or seen.__context__
    return None


def _handshake_done(connection: EndpointAddress) -> bool:
    # aiocoap's DTLSClientConnection queues messages in ``_queue`` until the handshake completes and
    # then sets it to None; it offers no public flag for this.
    return getattr(connection, "_queue", None) is None
