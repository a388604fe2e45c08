"""The LwM2M client: one UDP socket, one site, one registration to one server.

The socket the agent registers from is the socket it serves on: the server reaches a device behind
NAT (a cellular link) only at the address its Register came from, so the aiocoap context is a server
context that also sends the registration requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from aiocoap import Code, Context, Message
from aiocoap.numbers.contentformat import ContentFormat as CoapContentFormat

from ..core.codecs import encoder_for
from ..core.formats import ContentFormat
from ..core.path import Path
from ..tree import ObjectTree
from ..tree.binding import ExecuteAction, StoredValue
from .guard import SourceGuard, create_guarded_server_context
from .limits import ServerLimits
from .registration import RegistrationEngine, RegistrationSettings
from .session import ServerSession, preferred_format_for
from .site import LwM2MSite, read_composite
from .sources import ManagementSources

log = logging.getLogger(__name__)

# aiocoap sets SO_REUSEPORT on its UDP sockets, and Linux then hands the same ephemeral port to two
# sockets bound to port 0 -- two agents of one fleet (or an agent and a test server) would split
# each other's datagrams. Each agent owns its socket, so the option buys nothing; aiocoap reads
# this variable (its documented override) when it binds.
os.environ.setdefault("AIOCOAP_REUSE_PORT", "0")


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


def local_port(context: Context) -> int:
    """The UDP port an aiocoap context is bound to."""
    for interface in context.request_interfaces:
        message_interface = getattr(getattr(interface, "token_interface", None), "message_interface", None)
        if message_interface is not None and hasattr(message_interface, "_local_port"):
            return int(message_interface._local_port())
    raise RuntimeError("context has no UDP transport")


class LwM2MClient:
    """An agent serving ``tree`` to the server of ``settings``."""

    def __init__(self, tree: ObjectTree, settings: ClientSettings) -> None:
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
        # Only its servers may manage it: the policy, the check in the transport, and in the site.
        self.sources = ManagementSources(self.session)
        self.guard = SourceGuard(self.sources.accepts)
        self.site = LwM2MSite(lambda remote: self.session, accepts=self.sources.accepts_remote,
                              uploads=settings.limits.uploads())
        self.context: Context | None = None
        self.engine: RegistrationEngine | None = None
        self._lifecycle: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self.context is not None
        return local_port(self.context)

    async def start(self) -> None:
        """Bind the socket, start serving, and start registering (returns at once)."""
        self.context = await create_guarded_server_context(
            self.site, (self.settings.bind_host, self.settings.bind_port), self.guard)
        self.engine = RegistrationEngine(
            self.context, self.tree, self.settings.registration,
            content_format=lambda: int(self.session.preferred_format
                                       or preferred_format_for(self.session.lwm2m_version)),
        )
        self.engine.on_version_change = self._version_changed
        self.sources.engine = self.engine
        if self.settings.bootstrap_uri is None:
            await self.sources.allow_server(self.settings.registration.server_uri)
            self._wire_server_object()
            self.engine.start()
        else:
            self._lifecycle = asyncio.get_running_loop().create_task(self._bootstrap_then_register())

    async def _bootstrap_then_register(self) -> None:
        """Bootstrap (or restore what an earlier bootstrap saved), then register to that server."""
        from .bootstrap import BootstrapFailed, bootstrap, forget_accounts, load_accounts, save_accounts

        s = self.settings
        assert self.context is not None and self.engine is not None and s.bootstrap_uri is not None
        if s.state_dir is not None and s.force_bootstrap:
            forget_accounts(s.state_dir)
        restored = s.state_dir is not None and load_accounts(self.tree, s.state_dir)
        if restored:
            from .bootstrap import server_account

            account = server_account(self.tree)
            log.info("using saved bootstrap account for %s", account.server_uri)
        else:
            await self.sources.allow_bootstrap(s.bootstrap_uri)
            backoff = self.engine.backoff
            while True:
                try:
                    account = await bootstrap(self.context, self.session, s.bootstrap_uri, s.registration.endpoint,
                                              timeout=s.bootstrap_timeout, ack_timeout=s.registration.ack_timeout)
                    break
                except BootstrapFailed as exc:
                    delay = backoff.next_delay()
                    log.warning("%s; retrying in %.1f s", exc, delay)
                    await asyncio.sleep(delay)
            backoff.reset()
            if s.state_dir is not None:
                save_accounts(self.tree, s.state_dir)
        if account.server_uri.startswith("coaps"):
            log.error("%s needs DTLS (PSK identity %r); this build has no DTLS transport, so the agent "
                      "cannot register there", account.server_uri, account.identity.decode(errors="replace"))
        reg = s.registration
        reg.server_uri = account.server_uri
        reg.lifetime = account.lifetime
        reg.binding = account.binding
        self.session.short_server_id = account.short_server_id
        await self.sources.allow_server(account.server_uri)
        self._wire_server_object()
        self.engine.start()

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
        if self.context is None or self.engine is None or not self.engine.registered.is_set():
            raise RuntimeError("send needs a registered client")
        if self.session.lwm2m_version == "1.0":
            raise RuntimeError("send is LwM2M 1.1; the server registered this client as 1.0")
        values = await read_composite(self.session, list(paths))
        msg = Message(code=Code.POST, uri=f"{self.settings.registration.server_uri.rstrip('/')}/dp",
                      payload=encoder_for(content_format).encode(Path(), values, self.tree.models))
        msg.opt.content_format = CoapContentFormat(content_format)
        response = await self.context.request(msg).response
        return str(response.code.dotted)

    async def stop(self, deregister: bool = True) -> None:
        """Cancel observations, de-register, close the socket."""
        if self._lifecycle is not None:
            self._lifecycle.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lifecycle
            self._lifecycle = None
        self.session.observations.cancel_all()
        self.guard.incidents.flush()
        self.site.incidents.flush()
        if self.engine is not None:
            await self.engine.stop(deregister=deregister)
        if self.context is not None:
            await self.context.shutdown()
            self.context = None


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
