"""The registration interface: Register, Update, De-register, and staying registered.

The engine is a loop with four states -- unregistered, registering, registered, backing off -- in
one task, so a lifetime timer, a changed object set, a server that forgot us (4.04), a server that
cannot be reached and a change of the host's network are all handled in one place (LwM2M 1.1 §6.2;
Leshan's ``DefaultRegistrationEngine`` is the model).

Timing rules: an Update goes out before the lifetime runs out (at 90 % of it, and never later than
``lifetime - 2 s``). One Register or Update exchange gives up after
:data:`~agent.client.retry.EXCHANGE_LIMIT` seconds. When it failed, the next attempt follows the
Server object's retry policy (:mod:`.retry`), and while the server does not answer at all the agent
also pings it every few seconds and tries again the moment a ping is answered -- so the agent is
back within seconds of a link's return, whatever the phase of its registration cycle, while the
retry timers stay polite. An Update that went unanswered keeps the registration: the next attempt
is an Update again while the lifetime lasts (the server still holds it), a Register after that or
when the server answers 4.04. A new local address or route (:mod:`.netwatch`) sends an Update at
once, so the server learns the new source address.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from aiocoap import Code, Message
from aiocoap.numbers.constants import TransportTuning
from aiocoap.numbers.contentformat import ContentFormat as CoapContentFormat

from ..core.formats import ContentFormat
from ..core.linkformat import Link, format_links
from ..tree import ObjectTree
from .netwatch import NetworkEvent
from .retry import EXCHANGE_LIMIT, PROBE_TIMEOUT, RetryPolicy, RetryResources, probe_interval
from .transport import DtlsUnavailable, ExchangeFailed, ServerLink

log = logging.getLogger(__name__)


class RegistrationState(enum.Enum):
    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    BACKOFF = "backoff"
    STOPPED = "stopped"


@dataclass
class Backoff:
    """Exponential backoff with full jitter (AWS architecture blog's "full jitter")."""

    initial: float = 1.0
    maximum: float = 300.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * (2 ** self.attempt))
        self.attempt += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class QuickTuning(TransportTuning):
    """CON retransmission that gives up sooner than RFC 7252's ~93 s, so the probe takes over."""

    def __init__(self, ack_timeout: float, max_retransmit: int) -> None:
        self.ACK_TIMEOUT = ack_timeout
        self.MAX_RETRANSMIT = max_retransmit


@dataclass
class RegistrationSettings:
    server_uri: str
    endpoint: str
    lifetime: int = 300
    binding: str = "U"
    lwm2m_version: str = "1.1"
    queue_mode: bool = False
    ack_timeout: float = 2.0
    max_retransmit: int = 2
    exchange_limit: float = EXCHANGE_LIMIT
    # None: the Communication Retry Timer of the Server object (/1/x/18); a number overrides it (tests).
    backoff_initial: float | None = None
    backoff_max: float = 3600.0  # the ceiling of every retry delay (profile: [server] retry_ceiling)
    update_fraction: float = 0.9
    probe: bool = True


class VersionRefused(Exception):
    """The server refused our LwM2M version (4.00 or 4.12 to a 1.1 Register)."""


def registration_links(tree: ObjectTree, content_format: int, lwm2m_version: str = "1.1") -> str:
    """The Register payload: ``</>;rt="oma.lwm2m";ct=...`` then objects (not /0) and instances.

    An object is listed bare when it has no instance, or to carry its version (``</3303>;ver=1.1``)
    ahead of its instances, as Leshan and Anjay do. To a 1.0 server, an object whose model needs
    LwM2M 1.1 (the 1.1 Server object) is announced without its version: the agent serves it as the
    1.0 object plus resources a 1.0 server does not ask for.
    """
    links = [Link("/", {"rt": "oma.lwm2m", "ct": str(content_format)})]
    for oid in sorted(tree.objects):
        if oid == 0:
            continue
        node = tree.objects[oid]
        version = node.model.version_attributes()
        if lwm2m_version == "1.0" and node.model.lwm2m_version not in ("", "1.0"):
            version = {}
        if version or not node.instances:
            links.append(Link(f"/{oid}", version))
        links.extend(Link(f"/{oid}/{iid}", {}) for iid in sorted(node.instances))
    return format_links(links)


# Consecutive refusals (4.03, or DTLS refusing the credentials) after which the account is given up:
# a bootstrapped agent then bootstraps again, which is how a revoked or rotated key is replaced.
REFUSALS_BEFORE_GIVING_UP = 3


class RegistrationEngine:
    """Keeps one agent registered to one LwM2M server through a :class:`ServerLink`."""

    def __init__(self, link: ServerLink, tree: ObjectTree, settings: RegistrationSettings,
                 content_format: Callable[[], int] | None = None) -> None:
        self.link = link
        self.tree = tree
        self.settings = settings
        self.lwm2m_version = settings.lwm2m_version
        self.state = RegistrationState.UNREGISTERED
        self.location: tuple[str, ...] | None = None
        self.registered = asyncio.Event()
        self.registrations = 0
        self.updates = 0
        self.server_remote: object | None = None
        # Wall-clock time the server last accepted a Register or an Update (state directory, status).
        self.last_update_at: float | None = None
        self.links = ""  # the object links the server last received
        self.refusals = 0
        self.refused = asyncio.Event()
        self._last_cause = ""
        self._last_cause_logged = 0.0
        self.on_registration_change: Callable[[], None] | None = None
        self._content_format = content_format or (lambda: int(ContentFormat.TLV))
        self._wakeup = asyncio.Event()
        self._objects_changed = False
        self._params_changed = False
        self._task: asyncio.Task[None] | None = None
        self._resuming = False
        self._due = False
        self._network = asyncio.Event()
        self.retry = RetryPolicy(ceiling=settings.backoff_max)
        self.probes = 0
        self._silent_since: float | None = None  # monotonic time the server stopped answering
        self.network_updates = 0
        # Bootstrap retries (no Server object yet) keep the plain exponential backoff.
        self.backoff = Backoff(settings.backoff_initial or 1.0, min(settings.backoff_max, 300.0))
        self.on_version_change: Callable[[str], None] | None = None
        tree.add_structure_listener(self.objects_changed)

    # ---- triggers ---------------------------------------------------------------------------
    def objects_changed(self) -> None:
        """The object set changed: the next Update carries the new link list."""
        self._objects_changed = True
        self._wakeup.set()

    def trigger_update(self) -> None:
        """Registration Update Trigger (/1/x/8) or a changed lifetime/binding."""
        self._params_changed = True
        self._wakeup.set()

    def set_binding(self, binding: str) -> None:
        """A server wrote /1/x/7: the new binding goes out with the next Update (its trigger, /1/x/8)."""
        if binding != self.settings.binding:
            self.settings.binding = binding
            self._params_changed = True

    def network_changed(self, events: list[NetworkEvent]) -> None:
        """The host's links, addresses or routes changed: Update now (or probe now, when backing off)."""
        log.info("network changed (%s); updating the registration now", ", ".join(map(str, events[:3])))
        if self.link.secure:
            self.link.reset()  # a DTLS session is bound to the old source address
        self.network_updates += 1
        self._due = True
        self._network.set()
        self._wakeup.set()

    def retry_resources(self) -> RetryResources:
        """/1/x/17-20 of the (first) Server instance; the specification's defaults where absent."""
        node = self.tree.objects.get(1)
        inst = next(iter(node.instances.values()), None) if node is not None else None
        if inst is None:
            resources = RetryResources()
        else:
            resources = RetryResources.from_values(inst.stored(17), inst.stored(18), inst.stored(19), inst.stored(20))
        if self.settings.backoff_initial is not None:
            resources = RetryResources(resources.retry_count, self.settings.backoff_initial,
                                       resources.sequence_delay, resources.sequence_retry_count)
        return resources

    def set_lifetime(self, lifetime: int) -> None:
        if lifetime != self.settings.lifetime:
            self.settings.lifetime = lifetime
            self.trigger_update()

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self, resume_location: tuple[str, ...] | None = None, links: str | None = None) -> None:
        """Start registering; with ``resume_location`` (a registration saved within its lifetime),
        the first message is an Update to it, so a restart costs one round trip and no new Register.
        ``links`` are the object links the server holds for it: when the object set is no longer
        that one (a reloaded profile), the Update carries the new links."""
        self.location = resume_location
        self._resuming = resume_location is not None
        if self._resuming and links is not None:
            self.links = links
            if links != self.current_links():
                self._objects_changed = True
        self._task = asyncio.get_running_loop().create_task(self._run(), name="registration")

    async def stop(self, deregister: bool = True) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if deregister and self.location is not None:
            await self.deregister()
        self.state = RegistrationState.STOPPED

    async def _run(self) -> None:
        while True:
            try:
                if self.location is not None and not self._location_alive():
                    log.info("registration /%s has outlived its lifetime; registering again", "/".join(self.location))
                    self.location = None
                if self.location is None:
                    self.state = RegistrationState.REGISTERING
                    await self.register()
                    self.retry.reset()
                await self._wait_for_update_time()
                ok = await self.update()
                if not ok:
                    self.location = None
                    self.registered.clear()
                    continue
                self.retry.reset()
            except (ExchangeFailed, RegistrationFailed, DtlsUnavailable) as exc:
                unanswered = isinstance(exc, ExchangeFailed) and not exc.answered
                if not unanswered:
                    # The server answered with an error (or DTLS refused us): start over with a Register.
                    self.location = None
                self.registered.clear()
                self.state = RegistrationState.BACKOFF
                self._count_refusal(exc)
                delay = self.retry.next_delay(self.retry_resources())
                cause = exc.cause if isinstance(exc, ExchangeFailed) else str(exc)
                self._log_failure(cause, delay, probing=unanswered and self.settings.probe)
                if unanswered and self.settings.probe:
                    await self._probe(delay)
                else:
                    await self._sleep(delay)
                self._due = True

    def _location_alive(self) -> bool:
        """True while the server should still hold our registration (the last Update is recent enough)."""
        if self.last_update_at is None:
            return True
        return time.time() < self.last_update_at + self.settings.lifetime

    async def _sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds, or less when the network changes."""
        self._network.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._network.wait()

    async def _probe(self, delay: float) -> None:
        """Ping the server every few seconds until it answers, the network changes or ``delay`` ends."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        rng = self.retry.rng
        if self._silent_since is None:
            self._silent_since = loop.time()
        silent_since = self._silent_since
        while True:
            left = deadline - loop.time()
            if left <= 0:
                return
            self._network.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, probe_interval(rng, loop.time() - silent_since))):
                    await self._network.wait()
                return
            self.probes += 1
            if await self.link.ping(PROBE_TIMEOUT):
                self._silent_since = None
                log.info("server %s answers again; %s now", self.settings.server_uri,
                         "updating" if self.location is not None else "registering")
                return

    def _log_failure(self, cause: str, delay: float, probing: bool = False) -> None:
        """One warning per cause: the same cause again is a debug line, until it changes or 10 min pass."""
        now = time.monotonic()
        repeated = cause == self._last_cause and now - self._last_cause_logged < 600
        log.log(logging.DEBUG if repeated else logging.WARNING, "cannot register to LwM2M server %s: %s; "
                "retrying in %.1f s%s", self.settings.server_uri, cause, delay,
                ", or as soon as a ping is answered" if probing else "")
        if not repeated:
            self._last_cause, self._last_cause_logged = cause, now

    def _count_refusal(self, exc: Exception) -> None:
        refused = (isinstance(exc, ExchangeFailed) and exc.auth) or (
            isinstance(exc, RegistrationFailed) and exc.code == Code.FORBIDDEN)
        self.refusals = self.refusals + 1 if refused else 0
        if self.refusals >= REFUSALS_BEFORE_GIVING_UP:
            self.refused.set()

    def _registered_now(self) -> None:
        self._silent_since = None
        self.refusals = 0
        self._last_cause = ""
        self.last_update_at = time.time()
        self.state = RegistrationState.REGISTERED
        self.registered.set()
        if self.on_registration_change is not None:
            self.on_registration_change()

    async def _wait_for_update_time(self) -> None:
        lifetime = self.settings.lifetime
        delay = max(1.0, min(lifetime * self.settings.update_fraction, lifetime - 2.0))
        self._wakeup.clear()
        if self._objects_changed or self._params_changed or self._resuming or self._due:
            self._resuming = False
            self._due = False
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wakeup.wait()
        self._due = False  # the Update that follows is the one a network change asked for

    async def _exchange(self, msg: Message) -> Message:
        """One request, cut off after ``exchange_limit`` seconds (retransmissions included)."""
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for swallows a cancel that meets a response.
            async with asyncio.timeout(self.settings.exchange_limit):
                return await self.link.request(msg)
        except TimeoutError:
            if self.link.secure:
                self.link.reset()
            raise ExchangeFailed(self.settings.server_uri,
                                 f"no answer within {self.settings.exchange_limit:.0f} s") from None

    def current_links(self) -> str:
        return registration_links(self.tree, self._content_format(), self.lwm2m_version)

    # ---- the three messages -----------------------------------------------------------------
    def _tuning(self) -> QuickTuning:
        return QuickTuning(self.settings.ack_timeout, self.settings.max_retransmit)

    async def register(self) -> None:
        try:
            await self._register_once(self.lwm2m_version)
        except VersionRefused:
            # Only a first Register can be refused for its version: once the server took this
            # version, a 4.00 means something else (a bad parameter) and falling back would hide it.
            if self.lwm2m_version == "1.0" or self.registrations > 0:
                raise RegistrationFailed("server refused LwM2M 1.0 registration") from None
            log.warning("server refused LwM2M %s; registering as 1.0", self.lwm2m_version)
            self.lwm2m_version = "1.0"
            if self.on_version_change is not None:
                self.on_version_change("1.0")
            await self._register_once("1.0")

    async def _register_once(self, version: str) -> None:
        s = self.settings
        query = [f"ep={quote(s.endpoint, safe='')}", f"lt={s.lifetime}", f"lwm2m={version}", f"b={s.binding}"]
        if s.queue_mode and version != "1.0":
            query.append("Q")
        msg = Message(code=Code.POST, uri=f"{s.server_uri.rstrip('/')}/rd", transport_tuning=self._tuning())
        msg.opt.uri_query = tuple(query)
        msg.opt.content_format = CoapContentFormat(ContentFormat.LINK_FORMAT)
        self._objects_changed = False
        self._params_changed = False
        links = registration_links(self.tree, self._content_format(), version)
        msg.payload = links.encode()
        response = await self._exchange(msg)
        if response.code == Code.CREATED and response.opt.location_path:
            self.location = tuple(response.opt.location_path)
            self.links = links
            self.server_remote = response.remote
            self.registrations += 1
            self._registered_now()
            log.info("registered to %s as %s (location /%s, lifetime %d s, LwM2M %s)",
                     s.server_uri, s.endpoint, "/".join(self.location), s.lifetime, version)
            return
        if version != "1.0" and response.code in (Code.BAD_REQUEST, Code.PRECONDITION_FAILED):
            raise VersionRefused()
        raise RegistrationFailed(f"register answered {response.code}: {response.payload[:100]!r}", response.code)

    async def update(self) -> bool:
        """Send an Update; False when the server no longer knows us (4.04), so we re-register."""
        assert self.location is not None
        s = self.settings
        msg = Message(code=Code.POST, uri=f"{s.server_uri.rstrip('/')}/{'/'.join(self.location)}",
                      transport_tuning=self._tuning())
        query: list[str] = []
        if self._params_changed:
            query += [f"lt={s.lifetime}", f"b={s.binding}"]
        if query:
            msg.opt.uri_query = tuple(query)
        if self._objects_changed:
            msg.opt.content_format = CoapContentFormat(ContentFormat.LINK_FORMAT)
            msg.payload = registration_links(self.tree, self._content_format(), self.lwm2m_version).encode()
        self._objects_changed = False
        self._params_changed = False
        try:
            response = await self._exchange(msg)
        except ExchangeFailed:
            # Unanswered: the server may not have seen what changed, so the next Update says it again.
            self._objects_changed = self._objects_changed or bool(msg.payload)
            self._params_changed = self._params_changed or bool(query)
            raise
        if response.code == Code.CHANGED:
            if msg.payload:
                self.links = msg.payload.decode()
            self.updates += 1
            self.server_remote = response.remote
            self._registered_now()
            log.debug("registration update ok")
            return True
        if response.code == Code.NOT_FOUND:
            log.warning("server forgot registration /%s; registering again", "/".join(self.location))
            # A server that forgot the registration may have forgotten the DTLS session too.
            self.link.reset()
            return False
        raise RegistrationFailed(f"update answered {response.code}", response.code)

    async def deregister(self) -> None:
        if self.location is None:
            return
        s = self.settings
        msg = Message(code=Code.DELETE, uri=f"{s.server_uri.rstrip('/')}/{'/'.join(self.location)}",
                      transport_tuning=QuickTuning(min(s.ack_timeout, 1.0), 2))
        try:
            response = await asyncio.wait_for(self.link.request(msg), 10)
            log.info("de-registered from %s (%s)", s.server_uri, response.code)
        except (TimeoutError, ExchangeFailed) as exc:
            log.warning("de-register failed: %s", exc)
        self.location = None
        self.registered.clear()
        self.state = RegistrationState.UNREGISTERED
        if self.on_registration_change is not None:
            self.on_registration_change()


class RegistrationFailed(Exception):
    """The server answered the registration with an error that retrying may fix."""

    def __init__(self, message: str, code: Code | None = None) -> None:
        super().__init__(message)
        self.code = code
