"""``lwm2m-agent run``: one agent as a long-running service.

Builds the object tree (from a profile, or the built-in set), starts the client, tells systemd
when it is ready and keeps its watchdog fed, reloads the profile on SIGHUP, and on SIGTERM or
SIGINT de-registers before it exits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import TYPE_CHECKING

from ..client.agent import ClientSettings, LwM2MClient
from ..client.defaults import default_tree
from ..client.persistence import ClientState
from ..client.registration import RegistrationSettings
from ..profiles import Profile, ProfileError, build_agent_tree, close_tree, default_endpoint_name, load_profile
from ..profiles import start_tree as start_profile_tree
from ..profiles.spec import ServerProfile
from ..tree import ObjectTree
from .systemd import Systemd

if TYPE_CHECKING:
    from ..telemetry.sigfox import SigfoxUplinks

log = logging.getLogger("agent")

DEFAULT_SERVER = "coap://127.0.0.1:5683"


@dataclass
class AgentOptions:
    profile: FsPath | None = None
    server_uri: str | None = None
    bootstrap_uri: str | None = None
    endpoint: str | None = None
    lifetime: int | None = None
    lwm2m_version: str | None = None
    state_dir: FsPath | None = None
    force_bootstrap: bool = False
    simulate: bool = False
    bind_host: str = "::"
    bind_port: int = 0
    psk_identity: str | None = None
    psk_key: bytes | None = dataclasses.field(default=None, repr=False)
    soracom: str | None = None  # a key of agent.soracom.endpoints.COVERAGES


def server_profile(options: AgentOptions, profile: Profile | None) -> ServerProfile:
    """The server to use: command-line options over the profile's ``[server]`` over the built-in defaults.

    The result goes into the tree's Security and Server objects, so what the agent serves as its
    account is what it connects with.
    """
    from ..soracom.endpoints import COVERAGES

    if profile is not None:
        server = profile.server
    else:
        name = default_endpoint_name()
        server = ServerProfile(uri=DEFAULT_SERVER, endpoint=name.name, endpoint_warning=name.warning,
                               lifetime=60, lwm2m_version="1.1")
    changes: dict[str, object] = {}
    if options.soracom:
        coverage = COVERAGES[options.soracom]
        with_key = options.psk_key is not None or server.psk_key is not None
        changes.update(uri=coverage.dm_server if with_key else None,
                       bootstrap_uri=None if with_key else coverage.bootstrap_server,
                       lwm2m_version=coverage.lwm2m_version, short_server_id=coverage.short_server_id)
    if options.server_uri:
        changes["uri"] = options.server_uri
    if options.bootstrap_uri:
        changes["bootstrap_uri"] = options.bootstrap_uri
    if options.psk_identity is not None:
        changes["psk_identity"] = options.psk_identity.encode()
    if options.psk_key is not None:
        changes["psk_key"] = options.psk_key
    if options.endpoint:
        changes.update(endpoint=options.endpoint, endpoint_warning=None)
    if options.lifetime:
        changes["lifetime"] = options.lifetime
    if options.lwm2m_version:
        changes["lwm2m_version"] = options.lwm2m_version
    return dataclasses.replace(server, **changes)  # type: ignore[arg-type]


def client_settings(options: AgentOptions, server: ServerProfile) -> ClientSettings:
    if server.endpoint_warning:
        log.warning("endpoint name %s: %s", server.endpoint, server.endpoint_warning)
    uri = server.uri or server.bootstrap_uri or DEFAULT_SERVER
    reg = RegistrationSettings(server_uri=uri, endpoint=server.endpoint, lifetime=server.lifetime,
                               binding=server.binding, lwm2m_version=server.lwm2m_version,
                               backoff_max=float(server.retry_ceiling))
    return ClientSettings(reg, bind_host=options.bind_host, bind_port=options.bind_port,
                          bootstrap_uri=server.bootstrap_uri, state_dir=options.state_dir,
                          force_bootstrap=options.force_bootstrap)


async def build(options: AgentOptions) -> tuple[Profile | None, ObjectTree, ClientSettings]:
    profile = load_profile(options.profile) if options.profile else None
    for warning in profile.warnings if profile else []:
        log.warning("%s", warning)
    server = server_profile(options, profile)
    settings = client_settings(options, server)
    if profile is not None:
        tree = await build_agent_tree(dataclasses.replace(profile, server=server), simulate=options.simulate)
    else:
        tree = default_tree(server_uri=settings.registration.server_uri, lifetime=server.lifetime,
                            simulate=options.simulate, identity=server.psk_identity or b"",
                            secret_key=server.psk_key or b"", short_server_id=server.short_server_id)
    return profile, tree, settings


class RunningAgent:
    """The tree, the client and the telemetry of one profile, started and stopped together."""

    def __init__(self, profile: Profile | None, tree: ObjectTree, settings: ClientSettings,
                 state: ClientState | None = None) -> None:
        self.profile = profile
        self.tree = tree
        self.client = LwM2MClient(tree, settings, state)
        self.uplinks: SigfoxUplinks | None = None

    async def start(self, simulate: bool) -> None:
        await start_profile_tree(self.tree)
        await self.client.start()
        sigfox = self.profile.sigfox if self.profile is not None else None
        if sigfox is not None:
            device = self.profile.serial_ports[sigfox.port].device if (
                self.profile is not None and sigfox.port in self.profile.serial_ports) else sigfox.port
            if device.startswith("sim:"):
                log.warning("Sigfox modem %s exists only under `lwm2m-agent simulate`; no uplinks", device)
            else:
                from ..telemetry.from_profile import sigfox_uplinks

                uplinks = sigfox_uplinks(sigfox, self.tree, device, simulate=simulate)
                await uplinks.start()
                self.uplinks = uplinks

    async def stop(self, deregister: bool = True) -> None:
        if self.uplinks is not None:
            await self.uplinks.close()
        await self.client.stop(deregister=deregister)
        await close_tree(self.tree)


async def run_agent(options: AgentOptions, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set; raises ProfileError when the first profile does not load."""
    systemd = Systemd()
    profile, tree, settings = await build(options)
    agent = RunningAgent(profile, tree, settings)
    await agent.start(options.simulate)
    reg = settings.registration
    log.info("agent %s serving on UDP port %d, %s %s", reg.endpoint, agent.client.port,
             "bootstrapping from" if settings.bootstrap_uri else "registering to",
             settings.bootstrap_uri or reg.server_uri)
    systemd.ready(f"serving as {reg.endpoint}")
    systemd.start_watchdog()
    reload = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, reload.set)
    # SIGTERM (systemd's stop and restart) keeps the registration when there is a state directory:
    # the next start within the lifetime resumes it with one Update, attributes and observations
    # included. SIGINT (a person at a terminal) de-registers.
    terminated = asyncio.Event()

    def on_sigterm() -> None:
        terminated.set()
        stop.set()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    status = loop.create_task(report_registration(agent, systemd))
    try:
        while True:
            waiters = [loop.create_task(stop.wait()), loop.create_task(reload.wait())]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            if stop.is_set():
                break
            reload.clear()
            status.cancel()
            agent = await reloaded(agent, options, systemd)
            status = loop.create_task(report_registration(agent, systemd))
    finally:
        status.cancel()
        loop.remove_signal_handler(signal.SIGHUP)
        systemd.stopping()
        keep = terminated.is_set() and settings.state_dir is not None
        if keep:
            log.info("stopping: keeping the registration for the next start (state in %s)", settings.state_dir)
        else:
            log.info("stopping: de-registering")
        await agent.stop(deregister=not keep)
        await systemd.close()


async def report_registration(agent: RunningAgent, systemd: Systemd) -> None:
    await agent.client.wait_registered()
    reg = agent.client.settings.registration
    systemd.status(f"registered as {reg.endpoint} to {reg.server_uri}")


async def reloaded(agent: RunningAgent, options: AgentOptions, systemd: Systemd) -> RunningAgent:
    """SIGHUP: build the new profile first; only if it loads, swap the running agent for it.

    The registration is kept: the old client hands its state (what servers wrote, created and set
    up, and the registration itself) to the new one, which binds the same port and resumes with one
    Update -- carrying the new object links when the profile changed the object set.
    """
    try:
        profile, tree, settings = await build(options)
    except ProfileError as exc:
        log.error("reload refused, keeping the running profile: %s", exc)
        return agent
    same_server = (settings.registration.server_uri == agent.client.settings.registration.server_uri
                   and settings.registration.endpoint == agent.client.settings.registration.endpoint)
    log.info("reloading: serving the new profile, %s", "keeping the registration" if same_server
             else "registering to the new server")
    systemd.notify("RELOADING=1")
    await agent.stop(deregister=not same_server)
    fresh = RunningAgent(profile, tree, settings, agent.client.state if same_server else None)
    await fresh.start(options.simulate)
    systemd.ready(f"reloaded; serving as {settings.registration.endpoint}")
    return fresh
