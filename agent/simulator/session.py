"""``lwm2m-agent simulate``: the emulator, a fleet of simulated agents, and what to tell the user.

Everything printed is meant to be copied: first the web console's URL (logged in by its fragment),
then the API base URL and credentials, the device id, and three curl commands (read, write,
observe) that work as printed against the running emulator.

``--security psk`` puts the emulator's DM server behind DTLS PSK, as Soracom Inventory's is: agents that
bootstrap get a ``coaps://`` account with their device id and secret key; without bootstrap each agent's
device is created first and its tree holds that PSK. The output then also says how to connect an
agent of one's own: a curl that creates its device, and the ``lwm2m-agent run`` line that uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import shlex
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path as FsPath

from ..core.errors import LwM2MError
from ..daemon.telemetry import start_telemetry, store_notifications
from ..profiles import build_agent_tree, load_profile, shipped_profile
from ..soracom.api import push_models
from ..telemetry.notifications import NotificationStore
from ..telemetry.queue import TelemetryQueue
from ..telemetry.service import TelemetryService
from ..telemetry.settings import Endpoints, TelemetrySettings
from ..telemetry.sigfox import SigfoxField, SigfoxUplinks
from ..telemetry.sigfox_spec import parse_parser_format
from ..tree import ObjectTree
from .cloud.config import ResourceRef
from .cloud.console import console_url
from .cloud.records import UnknownItem
from .cloud.runner import CloudPorts, RunningCloud
from .devices import SimulatedHardware
from .dtls_front import FrontSettings
from .emulator import Emulator, EmulatorSettings
from .fleet import FleetSettings, SimulatedFleet, raise_open_file_limit
from .sigfox_modem import SimulatedSigfoxModem

log = logging.getLogger(__name__)


@dataclass
class SimulateOptions:
    count: int = 1
    api_port: int = 8080
    lwm2m_port: int = 5683
    bootstrap_port: int = 5685
    auth_key_id: str = "keyId-emulator"
    auth_key: str = "secret-emulator"
    state_file: FsPath | None = None
    lifetime: int = 60
    lwm2m_version: str | None = None  # None: the profile's
    bootstrap: bool = True
    profile: FsPath | None = None  # None: device_profiles/simulator.toml
    host: str = "127.0.0.1"
    security: str = "nosec"  # or "psk": the DM server speaks DTLS PSK only
    harvest_port: int = 8081
    harvest_socket_port: int = 8514  # TCP and UDP
    unified_port: int = 8082
    unified_socket_port: int = 23080  # TCP and UDP
    files_port: int = 8083
    state_dir: FsPath | None = None  # the first agent's telemetry queue; None: a fresh temporary folder

    def ingest_ports(self) -> CloudPorts:
        return CloudPorts(harvest=self.harvest_port, harvest_socket=self.harvest_socket_port,
                          unified=self.unified_port, unified_socket=self.unified_socket_port, files=self.files_port)


def endpoint_prefix() -> str:
    return f"sim-{socket.gethostname()}"


def curl_auth(api_key: str, token: str) -> str:
    return f"-H {shlex.quote('X-Soracom-API-Key: ' + api_key)} -H {shlex.quote('X-Soracom-Token: ' + token)}"


def curl_examples(api_url: str, api_key: str, token: str, device_id: str) -> list[tuple[str, str]]:
    auth = curl_auth(api_key, token)
    base = f"{api_url}/devices/{device_id}"
    return [
        ("read the temperature (3303/0/5700)", f"curl -s {auth} {base}/3303/0/5700"),
        ("write the UTC offset (3/0/14)",
         f"curl -s -X PUT {auth} -H 'Content-Type: application/json' -d '{{\"value\":\"+09:00\"}}' {base}/3/0/14"),
        ("observe the temperature, then read what it sent to Harvest Data",
         f"curl -s -X POST {auth} {base}/3303/0/5700/observe && sleep 3 && curl -s {auth} {base}/data"),
    ]


OWN_ENDPOINT = "my-agent"


def own_agent_lines(api_url: str, api_key: str, token: str, dm_server_uri: str) -> list[str]:
    """How to connect an agent of one's own to the emulator's DTLS server: create its device (the answer
    holds ``device_id`` and ``secretKey``), keep the key in a file, run the agent with both."""
    body = shlex.quote(f'{{"endpoint":"{OWN_ENDPOINT}"}}')
    return [
        f"curl -s -X POST {curl_auth(api_key, token)} -H 'Content-Type: application/json' -d {body} "
        f"{api_url}/devices",
        f"# put its secretKey, alone, in {OWN_ENDPOINT}.key (chmod 600), and its device_id for DEVICE_ID:",
        f"lwm2m-agent run --server {dm_server_uri} --endpoint {OWN_ENDPOINT} --psk-identity DEVICE_ID "
        f"--psk-key-file {OWN_ENDPOINT}.key",
    ]


async def sensors_ready(tree: ObjectTree, fields: list[SigfoxField], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for field in fields:
                await tree.read(field.path)
            return
        except LwM2MError:
            await asyncio.sleep(0.2)


async def first_uplink(uplinks: SigfoxUplinks, timeout: float = 5.0) -> None:
    """Wait (a little) until the first frame went through the queue and the modem, so what simulate prints
    can already be seen in the API."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while uplinks.sent == 0 and uplinks.failed == 0:
                await asyncio.sleep(0.02)


def emulator_endpoints(cloud: RunningCloud) -> Endpoints:
    """The emulator's ingest entry points, where a simulated agent's telemetry goes."""
    return Endpoints(harvest_url=cloud.harvest_url + "/", harvest_socket=cloud.harvest_socket,
                     unified_url=cloud.unified_url + "/", unified_socket=cloud.unified_socket,
                     files_url=cloud.files_url, api_url=cloud.api_url + "/v1")


def simulated_telemetry(settings: TelemetrySettings, device_id: str, device_secret: str | None) -> TelemetrySettings:
    """The profile's destinations pointed at the emulator: no ``url`` of their own, and ``publish`` as the
    device the emulator registered."""
    return TelemetrySettings(tuple(
        replace(dest, url=None, device_id=device_id if dest.transport == "publish" else dest.device_id,
                device_secret=device_secret if dest.transport == "publish" else dest.device_secret)
        for dest in settings.destinations))


def _address(address: tuple[str, int]) -> str:
    return f"{address[0]}:{address[1]}"


def sigfox_identity(endpoint: str) -> tuple[str, str]:
    """A Sigfox device id (8 hex) and PAC (16 hex) that stay the same for the same endpoint."""
    digest = hashlib.sha256(endpoint.encode()).hexdigest().upper()
    return digest[:8], digest[8:24]


async def run_simulation(options: SimulateOptions, stop: asyncio.Event, echo: Callable[[str], None]) -> None:
    profile = load_profile(options.profile or shipped_profile("simulator"))
    for warning in profile.warnings:
        # To the log (stderr): what ``echo`` prints is the copyable material, the console's URL first.
        log.warning("%s", warning)
    models = profile.models
    psk = options.security == "psk"
    if psk:
        # Each agent holds its UDP socket and its DTLS socket, and the front a loopback socket per session.
        raise_open_file_limit(3 * options.count + 256)
    emulator = Emulator(models, EmulatorSettings(
        host=options.host, api_port=options.api_port, lwm2m_port=options.lwm2m_port,
        bootstrap_port=options.bootstrap_port, state_file=options.state_file, auth_key_id=options.auth_key_id,
        auth_key=options.auth_key, lifetime=options.lifetime, read_device_info=options.count <= 100,
        security=options.security,
        dtls=FrontSettings(max_sessions=max(FrontSettings.max_sessions, options.count + 100)),
        ingest_ports=options.ingest_ports(),
    ))
    await emulator.start()
    assert emulator.server is not None and emulator.bootstrap is not None and emulator.store is not None
    assert emulator.inventory is not None
    inventory = emulator.inventory
    store = emulator.store
    prefix = endpoint_prefix()
    # One set of simulated hardware for the whole fleet: every agent reads the same GPS and sensor
    # board (serial readers are shared per port); only the first agent owns the Sigfox modem.
    sim = SimulatedHardware()
    modem: SimulatedSigfoxModem | None = None
    sigfox_id = ""
    if profile.sigfox is not None:
        sigfox_id, pac = sigfox_identity(prefix)
        try:
            store.get_sigfox_device(sigfox_id)
        except UnknownItem:  # first start (a --state file keeps it across restarts)
            store.provision_sigfox_device(sigfox_id, pac)

        # The cloud decodes uplinks with the format a user would paste into the console's binary parser.
        binary_parser = parse_parser_format(profile.sigfox.parser_format())

        async def uplink(device_id: str, data: bytes, want_downlink: bool) -> bytes | None:
            return store.sigfox_uplink(device_id, data, want_downlink, binary_parser=binary_parser)

        modem = SimulatedSigfoxModem(device_id=sigfox_id, pac=pac, on_uplink=uplink)
        await modem.start()
        sim.add_serial_device("sigfox", modem)
    uplinks: SigfoxUplinks | None = None
    telemetry: TelemetryService | None = None
    notifications: NotificationStore | None = None
    # The first agent's durable telemetry queue (Sigfox frames and every [telemetry.*] destination).
    state_dir = options.state_dir or FsPath(tempfile.mkdtemp(prefix="lwm2m-simulate-"))
    queue = TelemetryQueue.in_state_dir(state_dir)

    async def tree_for(index: int, endpoint: str) -> ObjectTree:
        nonlocal uplinks
        agent_profile = profile
        if psk and not options.bootstrap:
            # No bootstrap to hand out the PSK: the agent's device is made now, and its tree holds the key.
            device_id, key = await inventory.provision_device(endpoint)
            agent_profile = dataclasses.replace(profile, server=dataclasses.replace(
                profile.server, uri=emulator.dm_server_uri, psk_identity=device_id.encode(), psk_key=key))
        tree = await build_agent_tree(agent_profile, simulate=True, sim=sim)
        if index == 0 and profile.sigfox is not None and modem is not None:
            uplinks = profile.sigfox.uplinks(tree, modem.port, simulate=True, queue=queue)
        return tree

    version = options.lwm2m_version or profile.server.lwm2m_version
    fleet = SimulatedFleet(FleetSettings(
        count=options.count, endpoint_prefix=prefix, server_uri=emulator.dm_server_uri,
        bootstrap_uri=emulator.bootstrap.uri if options.bootstrap else None, lifetime=options.lifetime,
        lwm2m_version=version, host=options.host,
    ), tree_for)
    try:
        started = time.monotonic()
        await sim.start()
        await fleet.start()
        await fleet.wait_registered(max(30.0, options.count / 50))
        elapsed = time.monotonic() - started
        if uplinks is not None:
            # The first uplink goes at start; give the simulated sensors a moment to print a line.
            await sensors_ready(fleet.agents[0].tree, profile.sigfox.telemetry_fields() if profile.sigfox else [])
            await uplinks.start()
            await first_uplink(uplinks)
        credentials = await emulator.login()
        # The profile's custom objects are uploaded as a user would (lwm2m-agent models push), so the
        # console's Models page and ?model=true reads know them through the API.
        used = sorted({spec.object_id for spec in profile.instances})
        await push_models(credentials, [models.object(object_id) for object_id in used])
        first = fleet.agents[0]
        endpoint = first.settings.registration.endpoint
        device_id = emulator.device_id(endpoint) or "?"
        reg = emulator.server.registration(endpoint)
        url = console_url(emulator.api_url, credentials.api_key, credentials.token, emulator.dm_server_uri)
        echo(f"Console: {url}")
        echo("  (open it in a browser: the key and token in the # part log it in and never reach a server)")
        assert emulator.cloud is not None
        notifications = store_notifications(first, queue)
        if profile.telemetry and device_id != "?":
            # The real network knows which SIM sends; here every upload from this host is the first agent's.
            emulator.config.source_resources[options.host] = ResourceRef("Device", device_id)
            telemetry = await start_telemetry(
                simulated_telemetry(profile.telemetry, device_id, store.device_secret(device_id)), first.tree,
                first, queue, endpoints=emulator_endpoints(emulator.cloud))
        echo("Soracom cloud emulator")
        echo(f"  API base URL:     {emulator.api_url}")
        echo(f"  API key:          {credentials.api_key}")
        echo(f"  API token:        {credentials.token}")
        echo(f"  (POST {emulator.api_url}/auth with authKeyId={options.auth_key_id} authKey={options.auth_key} "
             "gives new ones)")
        security = "DTLS PSK: identity = device id, key = its secret" if psk else "no security"
        echo(f"  LwM2M server:     {emulator.dm_server_uri} ({security})    bootstrap server: {emulator.bootstrap.uri}")
        cloud = emulator.cloud
        echo(f"  Harvest Data:     {cloud.harvest_url}/    TCP and UDP {_address(cloud.harvest_socket)}")
        echo(f"  Unified Endpoint: {cloud.unified_url}/    TCP and UDP {_address(cloud.unified_socket)}")
        echo(f"  Harvest Files:    {cloud.files_url}/")
        if telemetry is not None:
            names = ", ".join(f"{d.name} ({d.transport})" for d in profile.telemetry.destinations)
            echo(f"Telemetry of {endpoint}: {names}")
        echo(f"  queue: lwm2m-agent queue status --state-dir {state_dir}")
        if options.count == 1:
            echo(f"Agent {endpoint} registered as device {device_id} (LwM2M {reg.lwm2m_version}; "
                 f"objects {' '.join(reg.object_links)})")
        else:
            echo(f"{options.count} agents registered in {elapsed:.1f} s; the first is {endpoint}, device {device_id}")
        if modem is not None and profile.sigfox is not None:
            echo(f"Sigfox modem {sigfox_id} on {modem.port}: uplinks every {profile.sigfox.interval:.0f} s, "
                 f"binary parser format: {profile.sigfox.parser_format()}")
        echo("")
        echo("Try (Ctrl-C stops everything; agents de-register):")
        for what, command in curl_examples(emulator.api_url, credentials.api_key, credentials.token, device_id):
            echo(f"  # {what}")
            echo(f"  {command}")
        echo("")
        if psk:
            echo("Connect an agent of your own over DTLS (PSK): create its device, then run the agent with its "
                 "id and secret key:")
            for line in own_agent_lines(emulator.api_url, credentials.api_key, credentials.token,
                                        emulator.dm_server_uri):
                echo(f"  {line}")
            echo("")
        await stop.wait()
        echo("stopping: agents de-register")
    finally:
        if telemetry is not None:
            await telemetry.close()
        if uplinks is not None:
            await uplinks.close()
        if notifications is not None:
            await notifications.close()
        await queue.close()
        if options.state_dir is None:  # our temporary folder: its queue goes with the emulator it fed
            shutil.rmtree(state_dir, ignore_errors=True)
        await fleet.stop(deregister=True)
        await sim.close()
        if modem is not None:
            await modem.close()
        await emulator.close()
    echo("stopped")
