"""The LwM2M client: one socket, one site, one registration to one server, and what it keeps.

The pieces, each in its own module, as Leshan's client splits them: the object tree (``agent.tree``)
behind the request handlers (:mod:`.site`), the registration engine (:mod:`.registration`) and
bootstrap (:mod:`.bootstrap`) on top of a transport (:mod:`.transport`: UDP or DTLS), and the state
directory (:mod:`.persistence`). This module wires them and runs the client's life:

1. find the server account -- restored from the state directory, written by a bootstrap server, or
   configured (profile / command line);
2. open the link to it (a DTLS session for ``coaps://``) and register, or resume a registration
   that is still within its lifetime with a single Update;
3. when the server keeps refusing a bootstrapped account (a revoked key), bootstrap again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from aiocoap import Code, Message
from aiocoap.numbers.contentformat import ContentFormat as CoapContentFormat

from ..core.codecs import encoder_for
from ..core.errors import NotAcceptable
from ..core.formats import ContentFormat
from ..core.path import Path
from ..state import TreeSnapshot
from ..tree import ObjectTree
from ..tree.binding import ExecuteAction, StoredValue
from .account import ServerAccount, server_account
from .bootstrap import BootstrapFailed, bootstrap
from .continuity import SavedObservation, parse_session, restore_attributes, resume_observations, session_document
from .guard import SourceGuard
from .limits import ServerLimits
from .netwatch import NetworkWatch
from .persistence import SESSION_SAVE_DELAY, ClientState, SavedRegistration
from .registration import RegistrationEngine, RegistrationSettings
from .session import ServerSession, preferred_format_for
from .site import LwM2MSite
from .sources import ManagementSources
from .transport import DtlsUnavailable, ExchangeFailed, ServerLink

log = logging.getLogger(__name__)


@dataclass
class ClientSettings:
    registration: RegistrationSettings
    bind_host: str = "::"
    bind_port: int = 0
    preferred_format: ContentFormat | None = None
    # Client-initiated bootstrap: when set, the DM server comes from the bootstrap server.
    bootstrap_uri: str | None = None
    state_dir: FsPath | None = None
    force_bootstrap: bool = False
    bootstrap_timeout: float = 60.0
    limits: ServerLimits = field(default_factory=ServerLimits)
    watch_network: bool = True  # Update at once when the host's addresses or routes change


class LwM2MClient:
    """An agent serving ``tree`` to the server of ``settings``."""

    def __init__(self, tree: ObjectTree, settings: ClientSettings, state: ClientState | None = None) -> None:
        """``state``: the state of a client this one replaces (a profile reload), else a fresh one."""
        self.tree = tree
        self.settings = settings
        reg = settings.registration
        self.session = ServerSession(
            tree=tree,
            lwm2m_version=reg.lwm2m_version,
            short_server_id=_short_server_id(tree),
            preferred_format=settings.preferred_format,
        )
        self._limit_session(settings.limits)
        # Only its servers may manage it: over UDP the source address decides, checked before aiocoap
        # keeps anything (guard.py); over DTLS the session the agent opened to its server does.
        self.sources = ManagementSources(self.session)
        self.guard = SourceGuard(self.sources.accepts)
        self.site = LwM2MSite(lambda remote: self.session, accepts=self._accepts,
                              uploads=settings.limits.uploads())
        self.state = state if state is not None else ClientState(settings.state_dir)
        self.session.on_tree_change = self._tree_changed
        self.session.observations.on_change = self._observations_changed
        self._session_save: asyncio.TimerHandle | None = None
        self._pending_observations: list[SavedObservation] = []
        self.link: ServerLink | None = None
        self.engine: RegistrationEngine | None = None
        self.account: ServerAccount | None = None
        self.bootstraps = 0
        self.network: NetworkWatch | None = None
        self._lifecycle: asyncio.Task[None] | None = None
        self._wired = False

    @property
    def port(self) -> int:
        assert self.link is not None
        return self.link.port

    async def start(self) -> None:
        """Bind the socket, start serving, and start registering (returns at once).

        Raises :class:`~agent.state.StateDirError` when the state directory cannot be used.
        """
        self.state.prepare()
        self.link = await self._open_link()
        self.engine = RegistrationEngine(
            self.link, self.tree, self.settings.registration,
            content_format=lambda: int(self.session.preferred_format
                                       or preferred_format_for(self.session.lwm2m_version)),
        )
        self.engine.on_version_change = self._version_changed
        self.engine.on_registration_change = self._save_registration
        self.sources.engine = self.engine
        if self.settings.watch_network:
            watch = NetworkWatch(self.engine.network_changed)
            self.network = watch if watch.start() else None
        self._lifecycle = asyncio.get_running_loop().create_task(self._run(), name="client lifecycle")

    async def _open_link(self) -> ServerLink:
        """Bind the configured port; else the port of a registration still valid, so the server's
        view of the agent (and a NAT's mapping) stays right across a restart; else any port."""
        s = self.settings
        saved = self.state.load_registration()
        if s.bind_port == 0 and saved is not None and saved.port and saved.endpoint == s.registration.endpoint \
                and saved.still_valid(saved.server_uri, s.registration.endpoint):
            try:
                return await ServerLink.open(self.site, s.bind_host, saved.port, self.guard)
            except OSError as exc:
                log.info("cannot bind the registered port %d again (%s); using a new one", saved.port, exc.strerror)
        return await ServerLink.open(self.site, s.bind_host, s.bind_port, self.guard)

    def _tree_changed(self, operation: str, path: Path) -> None:
        if operation == "attributes":
            self._save_session()
            return
        self.state.tree_changed(self.tree, operation, path)
        if operation == "write":
            asyncio.get_running_loop().create_task(self.state.capture_bound(self.tree, path))

    def _observations_changed(self) -> None:
        if self._session_save is None:
            self._session_save = asyncio.get_running_loop().call_later(SESSION_SAVE_DELAY, self._save_session)

    def _save_session(self) -> None:
        if self._session_save is not None:
            self._session_save.cancel()
            self._session_save = None
        document = session_document(self.session)
        document["server_uri"] = self.settings.registration.server_uri
        self.state.save_session(document)

    def _restore_session(self, server_uri: str, resuming: bool) -> None:
        """Attributes come back whenever the server is the same; observations only with the registration."""
        data = self.state.load_session()
        if not isinstance(data, dict) or data.get("server_uri") != server_uri:
            return
        try:
            attributes, observations = parse_session(data)
        except ValueError as exc:
            self.state.reject_session(str(exc))
            return
        restored = restore_attributes(self.session, attributes)
        self._pending_observations = observations if resuming else []
        if restored or self._pending_observations:
            log.info("restored attributes on %d paths; %d observations to resume", restored,
                     len(self._pending_observations))

    async def _resume_observations(self, saved: list[SavedObservation]) -> None:
        assert self.link is not None
        try:
            count = await resume_observations(self.session, self.link, saved)
        except Exception:
            log.exception("could not resume the observations")
            return
        if count:
            log.info("resumed %d observations on their tokens", count)
        self._save_session()

    async def _run(self) -> None:
        assert self.engine is not None and self.link is not None
        s = self.settings
        if s.force_bootstrap:
            self.state.forget_accounts()
        snapshot = self.state.load_tree()
        while True:
            if s.bootstrap_uri is not None:
                account = await self._bootstrapped_account(snapshot)
            else:
                account = self._configured_account()
                if snapshot is not None:
                    await self.state.restore(self.tree, snapshot, account.server_uri)
                    self._apply_written_settings(account)
            snapshot = None
            self.account = account
            await self.sources.allow_server(account.server_uri)
            try:
                self.link.use_server(account.server_uri, account.identity, account.secret_key)
            except (DtlsUnavailable, ExchangeFailed) as exc:
                log.error("cannot register to %s: %s", account.server_uri, exc)
                return
            if not self._wired:
                self._wire_server_object()
                self._wired = True
            saved = self.state.load_registration()
            resume = saved.location if saved is not None and saved.still_valid(
                account.server_uri, s.registration.endpoint) else None
            if resume is not None:
                log.info("resuming registration /%s at %s", "/".join(resume), account.server_uri)
            self._restore_session(account.server_uri, resuming=resume is not None)
            self.engine.start(resume_location=resume, links=saved.links if saved is not None and resume else None)
            if s.bootstrap_uri is None:
                return
            await self.engine.refused.wait()
            log.warning("%s refused the bootstrapped account %d times in a row; bootstrapping again",
                        account.server_uri, self.engine.refusals)
            await self.engine.stop(deregister=False)
            self.engine.refused.clear()
            self.engine.refusals = 0
            self.state.forget_accounts()

    def _configured_account(self) -> ServerAccount:
        """The server of the settings, with the credentials the tree's Security instance holds."""
        reg = self.settings.registration
        try:
            tree_account = server_account(self.tree)
        except NotAcceptable:
            tree_account = None
        self.state.server_uri = reg.server_uri
        return ServerAccount(
            server_uri=reg.server_uri,
            short_server_id=tree_account.short_server_id if tree_account else self.session.short_server_id,
            security_mode=tree_account.security_mode if tree_account else 3,
            identity=tree_account.identity if tree_account else b"",
            secret_key=tree_account.secret_key if tree_account else b"",
            lifetime=reg.lifetime, binding=reg.binding,
        )

    def _apply_written_settings(self, account: ServerAccount) -> None:
        """A lifetime or binding a server wrote before the restart wins over the configured one."""
        node = self.tree.objects.get(1)
        if node is None:
            return
        reg = self.settings.registration
        for iid, inst in node.instances.items():
            if inst.stored(0) != account.short_server_id:
                continue
            lifetime, binding = inst.stored(1), inst.stored(7)
            if Path(1, iid, 1) in self.state.written and isinstance(lifetime, int):
                reg.lifetime = lifetime
            if Path(1, iid, 7) in self.state.written and isinstance(binding, str):
                reg.binding = _without_queue_mode(binding)

    async def _bootstrapped_account(self, snapshot: TreeSnapshot | None) -> ServerAccount:
        """The account a bootstrap server gave: the saved one if there is one, else a new bootstrap."""
        s = self.settings
        assert self.engine is not None and self.link is not None and s.bootstrap_uri is not None
        if snapshot is not None and snapshot.restore_accounts(self.tree):
            try:
                account = server_account(self.tree)
            except NotAcceptable:
                log.warning("saved bootstrap state holds no usable account; bootstrapping again")
            else:
                log.info("using the saved bootstrap account for %s (no bootstrap)", account.server_uri)
                self.state.bootstrapped = True
                self.state.server_uri = account.server_uri
                await self.state.restore(self.tree, snapshot, account.server_uri)
                self._use_account_settings(account)
                return account
        await self.sources.allow_bootstrap(s.bootstrap_uri)
        backoff = self.engine.backoff
        while True:
            try:
                self.bootstraps += 1
                account = await bootstrap(self.link, self.session, s.bootstrap_uri, s.registration.endpoint,
                                          timeout=s.bootstrap_timeout, ack_timeout=s.registration.ack_timeout)
                break
            except BootstrapFailed as exc:
                delay = backoff.next_delay()
                log.warning("%s; retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
        backoff.reset()
        self.state.bootstrapped = True
        self.state.server_uri = account.server_uri
        self.state.created.clear()
        self.state.written.clear()
        self.state.save_registration(None)
        self.state.save_tree(self.tree)
        self._use_account_settings(account)
        return account

    def _use_account_settings(self, account: ServerAccount) -> None:
        reg = self.settings.registration
        reg.server_uri = account.server_uri
        reg.lifetime = account.lifetime
        reg.binding = _without_queue_mode(account.binding)
        self.session.short_server_id = account.short_server_id

    def _save_registration(self) -> None:
        engine = self.engine
        if engine is None:
            return
        reg = self.settings.registration
        if engine.location is None or engine.last_update_at is None:
            self.state.save_registration(None)
            return
        self.state.save_registration(SavedRegistration(
            server_uri=reg.server_uri, endpoint=reg.endpoint, location=engine.location,
            lifetime=reg.lifetime, updated_at=engine.last_update_at, port=self.link.port if self.link else 0,
            links=engine.links))
        if self._pending_observations:
            saved, self._pending_observations = self._pending_observations, []
            if engine.registrations == 0:
                asyncio.get_running_loop().create_task(self._resume_observations(saved))
            else:
                log.info("the server gave a new registration; %d saved observations dropped", len(saved))

    def _accepts(self, remote: object) -> bool:
        """The site's check: the DTLS session to our server, or a plain-UDP source the policy allows."""
        return (self.link is not None and self.link.is_server_session(remote)) or self.sources.accepts_remote(remote)

    def _limit_session(self, limits: ServerLimits) -> None:
        self.session.observations.max_observations = limits.max_observations
        self.session.observations.keepalive = limits.observe_keepalive

    def _version_changed(self, version: str) -> None:
        self.session.lwm2m_version = version

    def _wire_server_object(self) -> None:
        """Writes to the Server object reach the engine: lifetime (/1/x/1), binding (/1/x/7)."""
        node = self.tree.objects.get(1)
        if node is None or self.engine is None:
            return
        engine = self.engine
        for inst in node.instances.values():
            lifetime = inst.resources.get(1)
            if isinstance(lifetime, StoredValue):
                lifetime.add_listener(functools.partial(_lifetime_changed, engine, lifetime))
            binding = inst.resources.get(7)
            if isinstance(binding, StoredValue):
                binding.add_listener(functools.partial(_binding_changed, engine, binding))
            # Registration Update Trigger: bootstrap never writes executables, so it is always ours.
            inst.resources[8] = ExecuteAction(lambda _args: engine.trigger_update())
            for rid in (2, 3):
                default = inst.resources.get(rid)
                if isinstance(default, StoredValue):
                    default.add_listener(self.session.observations.refresh_defaults)

    async def wait_registered(self, timeout: float | None = None) -> None:
        assert self.engine is not None
        await asyncio.wait_for(self.engine.registered.wait(), timeout)

    async def send(self, paths: Sequence[Path], content_format: int = ContentFormat.SENML_CBOR) -> str:
        """LwM2M 1.1 Send (``POST /dp``): push the values of ``paths`` to the server unasked.

        Returns the server's response code (``"2.04"`` when it took them).
        """
        values = await self.tree.read_composite(list(paths))
        return await self.send_payload(encoder_for(content_format).encode(Path(), values, self.tree.models),
                                       content_format)

    async def send_payload(self, payload: bytes, content_format: int = ContentFormat.SENML_CBOR) -> str:
        """Send (``POST /dp``) of a payload already encoded (telemetry queues it, with its time, before)."""
        if self.link is None or self.engine is None or not self.engine.registered.is_set():
            raise RuntimeError("send needs a registered client")
        if self.session.lwm2m_version == "1.0":
            raise RuntimeError("send is LwM2M 1.1; the server registered this client as 1.0")
        msg = Message(code=Code.POST, uri=f"{self.settings.registration.server_uri.rstrip('/')}/dp", payload=payload)
        msg.opt.content_format = CoapContentFormat(content_format)
        response = await self.link.request(msg)
        return str(response.code.dotted)

    async def stop(self, deregister: bool = True) -> None:
        """Save the session, cancel observations, de-register (unless told not to), close the socket."""
        if self.engine is not None and self.engine.location is not None:
            self._save_session()
        self.session.observations.on_change = None
        if self._session_save is not None:
            self._session_save.cancel()
            self._session_save = None
        if self._lifecycle is not None:
            self._lifecycle.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lifecycle
            self._lifecycle = None
        self.session.observations.cancel_all()
        self.guard.incidents.flush()
        self.site.incidents.flush()
        if self.network is not None:
            self.network.close()
            self.network = None
        if self.engine is not None:
            await self.engine.stop(deregister=deregister)
        if self.link is not None:
            await self.link.close()
            self.link = None


def _without_queue_mode(binding: str) -> str:
    """The agent does not do queue mode (see the profile loader): a server's ``UQ`` becomes ``U``."""
    if "Q" not in binding:
        return binding
    plain = binding.replace("Q", "") or "U"
    log.warning("binding %r asks for queue mode, which the agent does not do; registering with %r", binding, plain)
    return plain


def _lifetime_changed(engine: RegistrationEngine, lifetime: StoredValue) -> None:
    if isinstance(lifetime.value, int):
        engine.set_lifetime(lifetime.value)


def _binding_changed(engine: RegistrationEngine, binding: StoredValue) -> None:
    if isinstance(binding.value, str):
        engine.set_binding(binding.value)


def _short_server_id(tree: ObjectTree) -> int:
    node = tree.objects.get(1)
    if node is not None:
        for inst in node.instances.values():
            ssid = inst.stored(0)
            if isinstance(ssid, int):
                return ssid
    return 0
