"""The ``lwm2m-agent`` command: run the agent, validate object models, start the simulator."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path as FsPath

import click

from . import __version__

log = logging.getLogger("agent")


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


def run_until_signal(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop_event)`` until it returns; SIGINT and SIGTERM set the event."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


def default_endpoint() -> str:
    return f"lwm2m-agent-{socket.gethostname()}"


@click.group()
@click.version_option(__version__, prog_name="lwm2m-agent")
def main() -> None:
    """An LwM2M client agent for Raspberry Pi and IoT gateways (Soracom Inventory)."""


@main.command()
@click.option("--server", "server_uri", default="coap://127.0.0.1:5683", show_default=True,
              help="LwM2M server URI (coap://HOST:PORT).")
@click.option("--endpoint", default=None, help="Endpoint client name [default: lwm2m-agent-HOSTNAME].")
@click.option("--lifetime", default=60, show_default=True, type=click.IntRange(1, 86400 * 365),
              help="Registration lifetime in seconds.")
@click.option("--lwm2m-version", type=click.Choice(["1.0", "1.1"]), default="1.1", show_default=True,
              help="LwM2M version to register with (1.1 falls back to 1.0 if the server refuses it).")
@click.option("--bind", "bind_host", default="::", show_default=True, help="Local address to bind.")
@click.option("--port", "bind_port", default=0, type=click.IntRange(0, 65535),
              help="Local UDP port [default: any].")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def run(server_uri: str, endpoint: str | None, lifetime: int, lwm2m_version: str, bind_host: str,
        bind_port: int, verbose: int) -> None:
    """Run the agent in the foreground until SIGINT/SIGTERM, then de-register and exit 0."""
    from .client.agent import ClientSettings, LwM2MClient
    from .client.defaults import default_tree
    from .client.registration import RegistrationSettings

    setup_logging(max(verbose, 1))
    ep = endpoint or default_endpoint()

    async def agent_main(stop: asyncio.Event) -> None:
        tree = default_tree(server_uri=server_uri, lifetime=lifetime)
        client = LwM2MClient(tree, ClientSettings(
            RegistrationSettings(server_uri=server_uri, endpoint=ep, lifetime=lifetime,
                                 lwm2m_version=lwm2m_version),
            bind_host=bind_host, bind_port=bind_port,
        ))
        await tree.start()
        await client.start()
        log.info("agent %s serving on UDP port %d, registering to %s", ep, client.port, server_uri)
        await stop.wait()
        log.info("stopping: de-registering")
        await client.stop(deregister=True)
        await tree.close()

    run_until_signal(agent_main)


@main.group()
def objects() -> None:
    """Object models (OMA DDF XML and JSON)."""


@objects.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=FsPath))
def objects_validate(paths: tuple[FsPath, ...]) -> None:
    """Load object model files and folders; print each refused file and a count."""
    from .models import validate_paths

    lines, loaded, refused = validate_paths(paths)
    for line in lines:
        click.echo(line)
    click.echo(f"{loaded} loaded, {refused} refused")
    sys.exit(1 if refused else 0)


@main.command()
@click.option("--devices", "count", default=1, show_default=True, type=click.IntRange(1, 100_000),
              help="Number of simulated agents (a fleet in this one process).")
@click.option("--api-port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port of the emulated Soracom API (0: any free port).")
@click.option("--lwm2m-port", default=5683, show_default=True, type=click.IntRange(0, 65535),
              help="UDP port of the emulated Inventory LwM2M server.")
@click.option("--bootstrap-port", default=5685, show_default=True, type=click.IntRange(0, 65535),
              help="UDP port of the emulated bootstrap server.")
@click.option("--auth-key-id", default="keyId-emulator", show_default=True, help="AuthKeyId POST /v1/auth accepts.")
@click.option("--auth-key", default="secret-emulator", show_default=True, help="AuthKey POST /v1/auth accepts.")
@click.option("--state", "state_file", type=click.Path(dir_okay=False, path_type=FsPath), default=None,
              help="Keep the emulator's devices, models and data in this sqlite file across restarts.")
@click.option("--lifetime", default=60, show_default=True, type=click.IntRange(10, 86400))
@click.option("--lwm2m-version", type=click.Choice(["1.0", "1.1"]), default="1.1", show_default=True)
@click.option("--no-bootstrap", is_flag=True, help="Register agents directly instead of bootstrapping first.")
@click.option("-v", "--verbose", count=True)
def simulate(count: int, api_port: int, lwm2m_port: int, bootstrap_port: int, auth_key_id: str, auth_key: str,
             state_file: FsPath | None, lifetime: int, lwm2m_version: str, no_bootstrap: bool, verbose: int) -> None:
    """Start the local Soracom cloud emulator and agents on simulated hardware (no SIM, no internet)."""
    from .simulator.session import SimulateOptions, run_simulation

    setup_logging(verbose)
    options = SimulateOptions(
        count=count, api_port=api_port, lwm2m_port=lwm2m_port, bootstrap_port=bootstrap_port,
        auth_key_id=auth_key_id, auth_key=auth_key, state_file=state_file, lifetime=lifetime,
        lwm2m_version=lwm2m_version, bootstrap=not no_bootstrap,
    )
    try:
        run_until_signal(lambda stop: run_simulation(options, stop, click.echo))
    except OSError as exc:
        raise click.ClickException(f"cannot start the simulator: {exc} (choose other ports with --api-port, "
                                   "--lwm2m-port and --bootstrap-port, or 0 for any free port)") from None


if __name__ == "__main__":
    main()
