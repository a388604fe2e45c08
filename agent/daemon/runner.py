"""``lwm2m-agent run``: one agent as a long-running service.

Builds the object tree (from a profile, or the built-in set), starts the client, tells systemd
when it is ready and keeps its watchdog fed, reloads the profile on SIGHUP, and on SIGTERM or
SIGINT de-registers before it exits.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import TYPE_CHECKING

from ..client.agent import ClientSettings, LwM2MClient
from ..client.defaults import default_tree
from ..client.limits import ServerLimits
from ..client.memory import trim_memory_periodically
from ..client.registration import RegistrationSettings
from ..profiles import Profile, ProfileError, build_agent_tree, close_tree, default_endpoint_name, load_profile
from ..profiles import start_tree as start_profile_tree
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


def client_settings(options: AgentOptions, profile: Profile | None) -> ClientSettings:
    """Command-line options over the profile's ``[server]`` over the built-in defaults."""
    if profile is not None:
        server = profile.server
        reg = server.registration_settings()
        endpoint_warning = server.endpoint_warning
        bootstrap_uri = server.bootstrap_uri
    else:
        name = default_endpoint_name()
        reg = RegistrationSettings(server_uri=DEFAULT_SERVER, endpoint=name.name, lifetime=60)
        endpoint_warning = name.warning
        bootstrap_uri = None
    if options.endpoint:
        reg.endpoint = options.endpoint
    elif endpoint_warning:
        log.warning("endpoint name %s: %s", reg.endpoint, endpoint_warning)
    if options.server_uri:
        reg.server_uri = options.server_uri
    if options.lifetime:
        reg.lifetime = options.lifetime
    if options.lwm2m_version:
        reg.lwm2m_version = options.lwm2m_version
    if options.bootstrap_uri:
        bootstrap_uri = options.bootstrap_uri
    if reg.server_uri.startswith("coaps") and not bootstrap_uri:
        log.error("%s needs DTLS, which this build does not have (aiocoap's tinydtls transport needs "
                  "DTLSSocket); registration will fail", reg.server_uri)
    return ClientSettings(reg, bind_host=options.bind_host, bind_port=options.bind_port, bootstrap_uri=bootstrap_uri,
                          state_dir=options.state_dir, force_bootstrap=options.force_bootstrap,
                          limits=profile.limits if profile is not None else ServerLimits())


async def build(options: AgentOptions) -> tuple[Profile | None, ObjectTree, ClientSettings]:
    profile = load_profile(options.profile) if options.profile else None
    for warning in profile.warnings if profile else []:
        log.warning("%s", warning)
    settings = client_settings(options, profile)
    if profile is not None:
        tree = await build_agent_tree(profile, simulate=options.simulate)
    else:
        tree = default_tree(server_uri=settings.registration.server_uri, lifetime=settings.registration.lifetime,
                            simulate=options.simulate)
    return profile, tree, settings


class RunningAgent:
    """The tree, the client and the telemetry of one profile, started and stopped together."""

    def __init__(self, profile: Profile | None, tree: ObjectTree, settings: ClientSettings) -> None:
        self.profile = profile
        self.tree = tree
        self.client = LwM2MClient(tree, settings)
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

    async def stop(self) -> None:
        if self.uplinks is not None:
            await self.uplinks.close()
        await self.client.stop(deregister=True)
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
    status = loop.create_task(report_registration(agent, systemd))
    trimmer = loop.create_task(trim_memory_periodically())
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
        trimmer.cancel()
        loop.remove_signal_handler(signal.SIGHUP)
        systemd.stopping()
        log.info("stopping: de-registering")
        await agent.stop()
        await systemd.close()


async def report_registration(agent: RunningAgent, systemd: Systemd) -> None:
    await agent.client.wait_registered()
    reg = agent.client.settings.registration
    systemd.status(f"registered as {reg.endpoint} to {reg.server_uri}")


async def reloaded(agent: RunningAgent, options: AgentOptions, systemd: Systemd) -> RunningAgent:
    """SIGHUP: build the new profile first; only if it loads, swap the running agent for it."""
    try:
        profile, tree, settings = await build(options)
    except ProfileError as exc:
        log.error("reload refused, keeping the running profile: %s", exc)
        return agent
    log.info("reloading: de-registering, then serving the new profile")
    systemd.notify("RELOADING=1")
    await agent.stop()
    fresh = RunningAgent(profile, tree, settings)
    await fresh.start(options.simulate)
    systemd.ready(f"reloaded; serving as {settings.registration.endpoint}")
    return fresh
