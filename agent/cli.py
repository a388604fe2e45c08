"""The ``lwm2m-agent`` command: run the agent, validate object models, start the simulator."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path as FsPath
from typing import TypeVar

import click

from . import __version__

log = logging.getLogger("agent")

T = TypeVar("T")

# The StateDirectory= of systemd/lwm2m-agent.service.
UNIT_STATE_DIR = FsPath("/var/lib/lwm2m-agent")


def setup_logging(verbose: int) -> None:
    """Plain lines for journald (it stamps them itself), timestamps on a terminal."""
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose == 1 else logging.WARNING
    if os.environ.get("JOURNAL_STREAM"):
        fmt = "%(levelname)s %(name)s: %(message)s"
    else:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    if verbose < 2:
        logging.getLogger("coap").setLevel(logging.WARNING)
        logging.getLogger("coap-server").setLevel(logging.WARNING)


def run_until_signal(main: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run ``main(stop_event)`` until it returns, and return what it returns; SIGINT and SIGTERM set the event."""

    async def runner() -> T:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await main(stop)

    return asyncio.run(runner())


def _server_uri(uri: str | None) -> str | None:
    """``--server`` and ``--bootstrap`` are checked as strictly as a profile's ``uri``."""
    from .core.server_uri import BadServerUri, check_server_uri

    if uri is not None:
        try:
            check_server_uri(uri)
        except BadServerUri as exc:
            raise click.BadParameter(f"{exc.message}; {exc.fix}") from None
    return uri


@click.group()
@click.version_option(__version__, prog_name="lwm2m-agent")
def main() -> None:
    """An LwM2M client agent for Raspberry Pi and IoT gateways (Soracom Inventory)."""


@main.command()
@click.option("--profile", "profile_path", type=click.Path(exists=True, dir_okay=False, path_type=FsPath),
              default=None, help="Device profile (TOML) [default: the built-in object set 0, 1, 3, 3303].")
@click.option("--server", "server_uri", default=None, callback=lambda _ctx, _param, uri: _server_uri(uri),
              help="LwM2M server URI (coap://HOST:PORT) [default: the profile's, else coap://127.0.0.1:5683].")
@click.option("--bootstrap", "bootstrap_uri", default=None, callback=lambda _ctx, _param, uri: _server_uri(uri),
              help="Bootstrap server URI: bootstrap first, then register where it says.")
@click.option("--endpoint", default=None,
              help="Endpoint client name [default: the profile's, else serial or host+MAC].")
@click.option("--lifetime", default=None, type=click.IntRange(1, 86400 * 365),
              help="Registration lifetime in seconds [default: the profile's, else 60].")
@click.option("--lwm2m-version", type=click.Choice(["1.0", "1.1"]), default=None,
              help="LwM2M version to register with [default: the profile's, else 1.1, falling back to 1.0].")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=FsPath), default=None,
              help="Where state that survives restarts is kept (bootstrapped credentials); made owner-only "
                   "at start, and where `lwm2m-agent status` asks.")
@click.option("--force-bootstrap", is_flag=True, help="Discard saved bootstrap credentials and bootstrap again.")
@click.option("--soracom", type=click.Choice(["jp", "g"]), default=None,
              help="Soracom Inventory preset (Japan or global coverage): its DM server, bootstrap server, LwM2M 1.0 "
                   "and short server id 123. With --psk-identity: the SIM-less flow; without: SIM bootstrap.")
@click.option("--psk-identity", default=None, help="DTLS PSK identity: the Soracom device id (d-...).")
@click.option("--psk-key-file", type=click.Path(dir_okay=False, path_type=FsPath), default=None,
              help="File holding the device's secret key (base64, as the console shows it); keep it mode 600.")
@click.option("--psk-key", default=None, help="The secret key itself (base64); visible in the process list, "
                                               "prefer --psk-key-file.")
@click.option("--simulate-hardware", is_flag=True, help="Run the profile on simulated hardware.")
@click.option("--bind", "bind_host", default="::", show_default=True, help="Local address to bind.")
@click.option("--port", "bind_port", default=0, type=click.IntRange(0, 65535),
              help="Local UDP port [default: any].")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def run(profile_path: FsPath | None, server_uri: str | None, bootstrap_uri: str | None, endpoint: str | None,
        lifetime: int | None, lwm2m_version: str | None, state_dir: FsPath | None, force_bootstrap: bool,
        soracom: str | None, psk_identity: str | None, psk_key_file: FsPath | None, psk_key: str | None,
        simulate_hardware: bool, bind_host: str, bind_port: int, verbose: int) -> None:
    """Run the agent in the foreground until SIGINT/SIGTERM, then exit 0.

    SIGINT de-registers. SIGTERM does too without --state-dir; with one it keeps the registration,
    which the next start resumes with one Update. SIGHUP reloads the profile without de-registering:
    a profile that no longer loads is refused (logged) and the running one goes on. A Reboot (/3/0/4)
    from the server de-registers and exits with status 194, which the systemd unit turns into a
    reboot; a Factory Reset (/3/0/5) empties the state directory and starts over.
    """
    from .daemon.runner import AgentOptions, run_agent
    from .profiles import ProfileError
    from .state import StateDirError

    setup_logging(max(verbose, 1))
    log = logging.getLogger("agent")
    key = _psk_key(psk_key_file, psk_key, log)
    if (psk_identity is None) != (key is None):
        raise click.UsageError("a pre-shared key needs both --psk-identity and --psk-key-file (or --psk-key)")
    options = AgentOptions(
        profile=profile_path, server_uri=server_uri, bootstrap_uri=bootstrap_uri, endpoint=endpoint,
        lifetime=lifetime, lwm2m_version=lwm2m_version, state_dir=state_dir, force_bootstrap=force_bootstrap,
        simulate=simulate_hardware, bind_host=bind_host, bind_port=bind_port, psk_identity=psk_identity,
        psk_key=key, soracom=soracom,
    )
    try:
        status = run_until_signal(lambda stop: run_agent(options, stop))
    except (ProfileError, StateDirError) as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(status)


@main.command()
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=FsPath), default=UNIT_STATE_DIR,
              show_default=True, help="The --state-dir of the running agent (the default is the systemd unit's).")
def status(state_dir: FsPath) -> None:
    """Show the running agent's registration, server, last Update, observations and queue.

    Asks the agent through the socket in its state directory (owner-only: run it as the agent's
    user or with sudo). Exit status 3 when no agent is running there.
    """
    from .daemon.status import StatusFormatError, render
    from .daemon.status_socket import StatusUnavailable, query_status

    try:
        answer = asyncio.run(query_status(state_dir))
    except StatusUnavailable as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(3)
    except StatusFormatError as exc:
        raise click.ClickException(str(exc)) from None
    for line in render(answer):
        click.echo(line)


def _psk_key(path: FsPath | None, text: str | None, log: logging.Logger) -> bytes | None:
    from .soracom.device_keys import DeviceKeyError, decode_device_key, read_device_key_file

    if path is not None and text is not None:
        raise click.UsageError("give --psk-key-file or --psk-key, not both")
    try:
        if path is not None:
            key, warning = read_device_key_file(path)
            if warning:
                log.warning("%s", warning)
            return key
        if text is not None:
            log.warning("--psk-key shows the secret key to every user of this machine (ps); "
                        "prefer --psk-key-file FILE with mode 600")
            return decode_device_key(text, "--psk-key")
    except DeviceKeyError as exc:
        raise click.BadParameter(str(exc), param_hint="--psk-key-file" if path else "--psk-key") from None
    return None


@main.group()
def profile() -> None:
    """Device profiles (TOML)."""


@profile.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=FsPath))
@click.option("--simulate-hardware", is_flag=True, help="Build it on simulated hardware (sim: ports allowed).")
def profile_check(path: FsPath, simulate_hardware: bool) -> None:
    """Load a profile, resolve every binding, print the object tree it would serve; connect nothing."""
    from .profiles import ProfileError, build_agent_tree, close_tree, describe_tree, load_profile

    async def check() -> None:
        loaded = load_profile(path)
        for warning in loaded.warnings:
            click.echo(f"warning: {warning}", err=True)
        tree = await build_agent_tree(loaded, simulate=simulate_hardware)
        try:
            server = loaded.server.uri or loaded.server.bootstrap_uri
            click.echo(f"endpoint: {loaded.server.endpoint}    server: {server}")
            click.echo(describe_tree(tree))
            for dest in loaded.telemetry.destinations:
                keys = ", ".join(f"{key}={path}" for key, path in dest.resources) or "a file"
                click.echo(f"telemetry {dest.name}: {dest.transport} every {dest.interval:g} s: {keys}")
        finally:
            await close_tree(tree)

    try:
        asyncio.run(check())
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def models() -> None:
    """Object models in the Soracom API (custom models must be uploaded before devices use them)."""


@models.command("push")
@click.option("--profile", "profile_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=FsPath))
@click.option("--api", "api_url", default="https://api.soracom.io/v1", show_default=True,
              help="API base URL: the real service (g.api.soracom.io for global coverage) or the emulator's.")
@click.option("--auth-key-id", envvar="SORACOM_AUTH_KEY_ID", required=True, help="[env SORACOM_AUTH_KEY_ID]")
@click.option("--auth-key", envvar="SORACOM_AUTH_KEY", required=True, help="[env SORACOM_AUTH_KEY]")
def models_push(profile_path: FsPath, api_url: str, auth_key_id: str, auth_key: str) -> None:
    """Upload the custom object models a profile uses (objects outside 0-9, 3200-3203, 3300-3350)."""
    from .profiles import ProfileError, load_profile
    from .soracom.api import SoracomApi, SoracomApiError, custom_models, push_models

    try:
        loaded = load_profile(profile_path)
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from None
    used = [loaded.models.object(oid) for oid in sorted({spec.object_id for spec in loaded.instances})]
    if not custom_models(used):
        click.echo("the profile uses only standard objects; nothing to upload")
        return

    async def push() -> None:
        api = SoracomApi(api_url.rstrip("/"))
        await api.authenticate(auth_key_id, auth_key)
        for model, what in await push_models(api, used):
            click.echo(f"{what} object {model.id} ({model.name}, {len(model.resources)} resources)")

    try:
        asyncio.run(push())
    except (SoracomApiError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def objects() -> None:
    """Object models (OMA DDF XML and JSON)."""


@objects.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=FsPath))
def objects_validate(paths: tuple[FsPath, ...]) -> None:
    """Load object model files and folders (default: the shipped objects/); print each refused file and a count."""
    from .models import shipped_objects_dir, validate_paths

    lines, loaded, refused = validate_paths(paths or (shipped_objects_dir(),))
    for line in lines:
        click.echo(line)
    click.echo(f"{loaded} loaded, {refused} refused")
    sys.exit(1 if refused else 0)


@main.command()
@click.option("--devices", "count", default=1, show_default=True, type=click.IntRange(1, 100_000),
              help="Number of simulated agents (a fleet in this one process).")
@click.option("--api-port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port of the emulated Soracom API (0: any free port).")
@click.option("--lwm2m-port", default=None, type=click.IntRange(0, 65535),
              help="UDP port of the emulated Inventory LwM2M server [default: 5683, with --security psk 5684].")
@click.option("--bootstrap-port", default=5685, show_default=True, type=click.IntRange(0, 65535),
              help="UDP port of the emulated bootstrap server.")
@click.option("--auth-key-id", default="keyId-emulator", show_default=True, help="AuthKeyId POST /v1/auth accepts.")
@click.option("--auth-key", default="secret-emulator", show_default=True, help="AuthKey POST /v1/auth accepts.")
@click.option("--state", "state_file", type=click.Path(dir_okay=False, path_type=FsPath), default=None,
              help="Keep the emulator's devices, models and data in this sqlite file across restarts.")
@click.option("--lifetime", default=60, show_default=True, type=click.IntRange(10, 86400))
@click.option("--lwm2m-version", type=click.Choice(["1.0", "1.1"]), default=None,
              help="LwM2M version the agents register with [default: the profile's].")
@click.option("--no-bootstrap", is_flag=True, help="Register agents directly instead of bootstrapping first.")
@click.option("--security", type=click.Choice(["nosec", "psk"]), default="nosec", show_default=True,
              help="psk: the LwM2M server speaks DTLS with a pre-shared key (coaps://), as Soracom Inventory's; "
                   "identity = device id, key = its secret key.")
@click.option("--profile", type=click.Path(exists=True, dir_okay=False, path_type=FsPath), default=None,
              help="Device profile of the simulated agents [default: device_profiles/simulator.toml].")
@click.option("--harvest-port", default=8081, show_default=True, type=click.IntRange(0, 65535),
              help="HTTP port of the emulated Harvest Data entry point (harvest.soracom.io).")
@click.option("--harvest-socket-port", default=8514, show_default=True, type=click.IntRange(0, 65535),
              help="TCP and UDP port of the emulated Harvest Data entry point (harvest.soracom.io:8514).")
@click.option("--unified-port", default=8082, show_default=True, type=click.IntRange(0, 65535),
              help="HTTP port of the emulated Unified Endpoint (uni.soracom.io).")
@click.option("--unified-socket-port", default=23080, show_default=True, type=click.IntRange(0, 65535),
              help="TCP and UDP port of the emulated Unified Endpoint (uni.soracom.io:23080).")
@click.option("--files-port", default=8083, show_default=True, type=click.IntRange(0, 65535),
              help="HTTP port of the emulated Harvest Files entry point (harvest-files.soracom.io).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=FsPath), default=None,
              help="State directory of the first agent (its telemetry queue) [default: a new temporary one].")
@click.option("-v", "--verbose", count=True)
def simulate(count: int, api_port: int, lwm2m_port: int | None, bootstrap_port: int, auth_key_id: str, auth_key: str,
             state_file: FsPath | None, lifetime: int, lwm2m_version: str | None, no_bootstrap: bool,
             security: str, profile: FsPath | None, harvest_port: int, harvest_socket_port: int, unified_port: int,
             unified_socket_port: int, files_port: int, state_dir: FsPath | None, verbose: int) -> None:
    """Start the local Soracom cloud emulator and agents on simulated hardware (no SIM, no internet)."""
    from .simulator.session import SimulateOptions, run_simulation

    setup_logging(verbose)
    options = SimulateOptions(
        count=count, api_port=api_port, bootstrap_port=bootstrap_port,
        lwm2m_port=lwm2m_port if lwm2m_port is not None else (5684 if security == "psk" else 5683),
        auth_key_id=auth_key_id, auth_key=auth_key, state_file=state_file, lifetime=lifetime,
        lwm2m_version=lwm2m_version, bootstrap=not no_bootstrap, profile=profile, security=security,
        harvest_port=harvest_port, harvest_socket_port=harvest_socket_port, unified_port=unified_port,
        unified_socket_port=unified_socket_port, files_port=files_port, state_dir=state_dir,
    )
    try:
        run_until_signal(lambda stop: run_simulation(options, stop, click.echo))
    except OSError as exc:
        raise click.ClickException(f"cannot start the simulator: {exc} (choose other ports with --api-port, "
                                   "--lwm2m-port, --bootstrap-port, --harvest-port, --harvest-socket-port, "
                                   "--unified-port, --unified-socket-port and --files-port, or 0 for any free "
                                   "port)") from None


@main.group()
def queue() -> None:
    """The durable telemetry queue in an agent's state directory."""


@queue.command("status")
@click.option("--state-dir", type=click.Path(exists=True, file_okay=False, path_type=FsPath), required=True,
              help="The agent's state directory (its --state-dir).")
def queue_status(state_dir: FsPath) -> None:
    """For each destination: readings waiting, age of the oldest, last success, last error, readings dropped."""
    from .telemetry.status import format_status, load_status

    try:
        statuses = load_status(state_dir)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(format_status(statuses))


if __name__ == "__main__":
    main()
