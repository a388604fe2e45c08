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
    level = min(level, logging.INFO)
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
        await tree_start(tree)
        await client.start()
        log.info("agent %s serving on UDP port %d, registering to %s", ep, client.port, server_uri)
        await stop.wait()
        log.info("stopping: de-registering")
        await client.stop(deregister=True)
        await tree_close(tree)

    run_until_signal(agent_main)


async def tree_start(tree: object) -> None:
    from .tree import ObjectTree

    assert isinstance(tree, ObjectTree)
    for node in tree.objects.values():
        for inst in node.instances.values():
            for binding in inst.resources.values():
                await binding.start()


async def tree_close(tree: object) -> None:
    from .tree import ObjectTree

    assert isinstance(tree, ObjectTree)
    for node in tree.objects.values():
        for inst in node.instances.values():
            for binding in inst.resources.values():
                await binding.close()


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
@click.option("--lwm2m-port", default=5683, show_default=True, type=click.IntRange(0, 65535),
              help="UDP port of the local LwM2M server.")
@click.option("--lwm2m-version", type=click.Choice(["1.0", "1.1"]), default="1.1", show_default=True)
@click.option("--lifetime", default=60, show_default=True, type=click.IntRange(1, 86400))
@click.option("-v", "--verbose", count=True)
def simulate(lwm2m_port: int, lwm2m_version: str, lifetime: int, verbose: int) -> None:
    """Start a local LwM2M server and an agent on simulated hardware (no SIM, no internet)."""
    from .client.agent import ClientSettings, LwM2MClient
    from .client.defaults import default_tree
    from .client.registration import RegistrationSettings
    from .core.formats import ContentFormat
    from .models import shipped_models
    from .simulator.lwm2m_server import LwM2MServer

    setup_logging(max(verbose, 1))

    async def sim_main(stop: asyncio.Event) -> None:
        server = LwM2MServer(shipped_models(), host="127.0.0.1", port=lwm2m_port)
        await server.start()
        endpoint = f"sim-{socket.gethostname()}"
        tree = default_tree(server_uri=server.uri, lifetime=lifetime, simulate=True)
        client = LwM2MClient(tree, ClientSettings(
            RegistrationSettings(server_uri=server.uri, endpoint=endpoint, lifetime=lifetime,
                                 lwm2m_version=lwm2m_version),
            bind_host="127.0.0.1",
        ))
        await tree_start(tree)
        await client.start()
        await client.wait_registered(10)
        reg = server.registration(endpoint)
        click.echo(f"LwM2M server: {server.uri}")
        click.echo(f"agent {endpoint} registered (LwM2M {reg.lwm2m_version}) with: {' '.join(reg.object_links)}")
        sys.stdout.flush()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 10)
            except TimeoutError:
                result = await server.read(endpoint, "/3303/0/5700", ContentFormat.TEXT)
                click.echo(f"read /3303/0/5700 -> {result.code} {result.text}")
        await client.stop(deregister=True)
        await tree_close(tree)
        await server.stop()
        click.echo("stopped")

    run_until_signal(sim_main)


if __name__ == "__main__":
    main()
