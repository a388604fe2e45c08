"""``lwm2m-agent run``: one agent as a long-running service.

Builds the object tree (from a profile, or the built-in set), starts the client, tells systemd
when it is ready and keeps its watchdog fed, reloads the profile on SIGHUP, and on SIGTERM or
SIGINT de-registers before it exits. With a state directory it makes that directory private
first (``state_dir``) and answers ``lwm2m-agent status`` on a socket in it (``status_socket``).
A server's Reboot ends the run with the exit status the systemd unit reboots on; a Factory Reset
empties the state directory and starts over in this process (``device_control``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import TYPE_CHECKING

from ..client.agent import ClientSettings, LwM2MClient
from ..client.defaults import default_tree
from ..client.limits import ServerLimits
from ..client.memory import trim_memory_periodically
from ..client.persistence import ClientState
from ..client.registration import RegistrationSettings
from ..profiles.endpoint import default_endpoint_name
from ..profiles.errors import ProfileError
from ..profiles.lifecycle import close_tree
from ..profiles.lifecycle import start_tree as start_profile_tree
from ..profiles.spec import Profile, ServerProfile
from ..state import clear_state_dir, secure_state_dir
from ..tree import ObjectTree
from .device_control import EXIT_REBOOT, DeviceControl, DeviceRequest
from .status import agent_status
from .status_socket import SOCKET_NAME, StatusServer
from .systemd import Systemd

if TYPE_CHECKING:
    from ..telemetry.notifications import NotificationStore
    from ..telemetry.queue import TelemetryQueue
    from ..telemetry.service import TelemetryService
    from ..telemetry.settings import TelemetrySettings
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


def client_settings(options: AgentOptions, server: ServerProfile, limits: ServerLimits | None = None) -> ClientSettings:
    if server.endpoint_warning:
        log.warning("endpoint name %s: %s", server.endpoint, server.endpoint_warning)
    uri = server.uri or server.bootstrap_uri or DEFAULT_SERVER
    reg = RegistrationSettings(server_uri=uri, endpoint=server.endpoint, lifetime=server.lifetime,
                               binding=server.binding, lwm2m_version=server.lwm2m_version,
                               backoff_max=float(server.retry_ceiling))
    return ClientSettings(reg, bind_host=options.bind_host, bind_port=options.bind_port,
                          bootstrap_uri=server.bootstrap_uri, state_dir=options.state_dir,
                          force_bootstrap=options.force_bootstrap, limits=limits or ServerLimits())


async def build(options: AgentOptions) -> tuple[Profile | None, ObjectTree, ClientSettings]:
    # The loader and the hardware factories are imported only for a profile: without one the agent
    # serves its built-in object set and stays small (DESIGN: idle RSS <= 30 MB).
    profile = None
    if options.profile:
        from ..profiles.loader import load_profile

        profile = load_profile(options.profile)
    if profile is not None and profile.telemetry:
        profile.telemetry = usable_telemetry(profile, options.state_dir)
    for warning in profile.warnings if profile else []:
        log.warning("%s", warning)
    server = server_profile(options, profile)
    settings = client_settings(options, server, profile.limits if profile is not None else None)
    if profile is not None:
        from ..profiles.build import build_agent_tree

        tree = await build_agent_tree(dataclasses.replace(profile, server=server), simulate=options.simulate)
    else:
        tree = default_tree(server_uri=settings.registration.server_uri, lifetime=server.lifetime,
                            simulate=options.simulate, identity=server.psk_identity or b"",
                            secret_key=server.psk_key or b"", short_server_id=server.short_server_id)
    return profile, tree, settings


def usable_telemetry(profile: Profile, state_dir: FsPath | None) -> TelemetrySettings:
    """The destinations this run can serve; each one it cannot is said in an ERROR line, not dropped quietly."""
    from ..telemetry.settings import TelemetrySettings

    if state_dir is None:
        log.error("telemetry is OFF: its durable queue lives in the state directory; run with --state-dir DIR "
                  "(the systemd unit gives /var/lib/lwm2m-agent)")
        return TelemetrySettings()
    kept = []
    for dest in profile.telemetry.destinations:
        if dest.transport == "publish" and not (dest.device_id and dest.device_secret):
            log.error("telemetry.%s is OFF: publish needs the device id and secret; set device_id and device_secret "
                      "there, or psk_identity and psk_key under [server]", dest.name)
            continue
        kept.append(dest)
    return TelemetrySettings(tuple(kept))


class RunningAgent:
    """The tree, the client and the telemetry of one profile, started and stopped together."""

    def __init__(self, profile: Profile | None, tree: ObjectTree, settings: ClientSettings,
                 state: ClientState | None = None) -> None:
        self.profile = profile
        self.tree = tree
        self.client = LwM2MClient(tree, settings, state)
        self.uplinks: SigfoxUplinks | None = None
        self.stopped = False
        self.telemetry: TelemetryService | None = None
        self.queue: TelemetryQueue | None = None
        self.notifications: NotificationStore | None = None

    async def start(self, simulate: bool) -> None:
        await start_profile_tree(self.tree)
        await self.client.start()
        state_dir = self.client.settings.state_dir
        sigfox = self.profile.sigfox if self.profile is not None else None
        if state_dir is not None:
            from ..telemetry.queue import TelemetryQueue
            from .telemetry import store_notifications

            self.queue = TelemetryQueue.in_state_dir(state_dir)
            self.notifications = store_notifications(self.client, self.queue)
        if sigfox is not None:
            device = self.profile.serial_ports[sigfox.port].device if (
                self.profile is not None and sigfox.port in self.profile.serial_ports) else sigfox.port
            if device.startswith("sim:"):
                log.warning("Sigfox modem %s exists only under `lwm2m-agent simulate`; no uplinks", device)
            else:
                if self.queue is None:
                    log.warning("no --state-dir: Sigfox frames are sent without the durable queue, and the daily "
                                "budget starts afresh at every restart")
                uplinks = sigfox.uplinks(self.tree, device, simulate=simulate, queue=self.queue)
                await uplinks.start()
                self.uplinks = uplinks
        if self.profile is not None and self.profile.telemetry and self.queue is not None:
            from .telemetry import start_telemetry

            self.telemetry = await start_telemetry(self.profile.telemetry, self.tree, self.client, self.queue)

    async def stop(self, deregister: bool = True) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.telemetry is not None:
            await self.telemetry.close()
        if self.uplinks is not None:
            await self.uplinks.close()
        if self.notifications is not None:
            await self.notifications.close()
        if self.queue is not None:
            await self.queue.close()
        await self.client.stop(deregister=deregister)
        await close_tree(self.tree)


async def run_agent(options: AgentOptions, stop: asyncio.Event) -> int:
    """Run until ``stop`` is set or the server asks for a reboot; the exit status (0 or EXIT_REBOOT).

    Raises ProfileError when the first profile does not load, StateDirError when the state
    directory cannot be made private or another agent runs with it.
    """
    os.umask(0o077)  # what the agent writes is for the agent alone (the unit sets UMask= too)
    if options.state_dir is not None:
        options.state_dir = secure_state_dir(options.state_dir)
    systemd = Systemd()
    control = DeviceControl()
    profile, tree, settings = await build(options)
    agent = RunningAgent(profile, tree, settings)
    control.attach(agent.tree)
    started_at = time.time()
    status_server = None
    if options.state_dir is not None:
        # ``agent`` is looked up at each request: a reload or factory reset replaces it.
        status_server = StatusServer(options.state_dir, lambda: agent_status(agent.client, started_at))
        if not await status_server.start():
            status_server = None
    try:
        await agent.start(options.simulate)
    except BaseException:
        if status_server is not None:
            await status_server.close()
        raise
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
    exit_status = 0
    trimmer = loop.create_task(trim_memory_periodically())
    try:
        while True:
            waiters = [loop.create_task(event.wait()) for event in (stop, reload, control.event)]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            if stop.is_set():
                break
            request = control.take()
            if request is DeviceRequest.REBOOT:
                log.warning("reboot requested by the server: de-registering, then exiting with status %d "
                            "(the systemd unit reboots the device on it)", EXIT_REBOOT)
                exit_status = EXIT_REBOOT
                break
            status.cancel()
            if request is DeviceRequest.FACTORY_RESET:
                agent = await factory_reset(agent, options, systemd, control)
            else:
                reload.clear()
                agent = await reloaded(agent, options, systemd, control)
            status = loop.create_task(report_registration(agent, systemd))
    finally:
        status.cancel()
        trimmer.cancel()
        loop.remove_signal_handler(signal.SIGHUP)
        systemd.stopping()
        keep = terminated.is_set() and settings.state_dir is not None
        if keep:
            log.info("stopping: keeping the registration for the next start (state in %s)", settings.state_dir)
        else:
            log.info("stopping: de-registering")
        await agent.stop(deregister=not keep)
        if status_server is not None:
            await status_server.close()
        await systemd.close()
    return exit_status


async def report_registration(agent: RunningAgent, systemd: Systemd) -> None:
    await agent.client.wait_registered()
    reg = agent.client.settings.registration
    systemd.status(f"registered as {reg.endpoint} to {reg.server_uri}")


async def reloaded(agent: RunningAgent, options: AgentOptions, systemd: Systemd,
                   control: DeviceControl) -> RunningAgent:
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
    control.attach(fresh.tree)
    await fresh.start(options.simulate)
    systemd.ready(f"reloaded; serving as {settings.registration.endpoint}")
    return fresh


async def factory_reset(agent: RunningAgent, options: AgentOptions, systemd: Systemd,
                        control: DeviceControl) -> RunningAgent:
    """De-register, empty the state directory, start over: bootstrap again when the agent bootstraps."""
    log.warning("factory reset requested by the server: de-registering, emptying the state directory, "
                "starting over")
    systemd.status("factory reset")
    await agent.stop()
    if options.state_dir is not None:
        removed = clear_state_dir(options.state_dir, keep=frozenset({SOCKET_NAME}))
        log.warning("factory reset: removed %s from %s", ", ".join(removed) or "nothing", options.state_dir)
    profile, tree, settings = await build(options)
    fresh = RunningAgent(profile, tree, settings)
    control.attach(fresh.tree)
    await fresh.start(options.simulate)
    systemd.status(f"factory reset done; serving as {settings.registration.endpoint}")
    return fresh
