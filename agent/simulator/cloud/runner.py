"""Starting the whole cloud emulator on sockets: the API host and every device-side entry point.

The real service spreads these over hosts (``api``, ``harvest``, ``uni``, ``harvest-files``); the emulator
gives each its own port on one address, ephemeral by default, and reports where each one listens, so
tests and ``lwm2m-agent simulate`` can point devices at them.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from agent.simulator.cloud.app import InventoryRoutes, create_app
from agent.simulator.cloud.config import CloudConfig
from agent.simulator.cloud.files import create_files_ingest_app
from agent.simulator.cloud.ingest import (
    create_harvest_ingest_app,
    create_unified_ingest_app,
    harvest_socket_handler,
    unified_socket_handler,
)
from agent.simulator.cloud.sockets import SocketIngest, start_socket_ingest
from agent.simulator.cloud.store import CloudStore


@dataclass(frozen=True)
class CloudPorts:
    """Ports to listen on; 0 picks a free one. The real ones: 443, 80, 8514, 80, 23080, 80."""

    api: int = 0
    harvest: int = 0
    harvest_socket: int = 0  # TCP and UDP
    unified: int = 0
    unified_socket: int = 0  # TCP and UDP
    files: int = 0


@dataclass(frozen=True)
class RunningCloud:
    """Where each part listens; ``close()`` stops them all."""

    api_url: str
    harvest_url: str
    harvest_socket: tuple[str, int]
    unified_url: str
    unified_socket: tuple[str, int]
    files_url: str
    _runners: tuple[web.AppRunner, ...]
    _sockets: tuple[SocketIngest, ...]

    async def close(self) -> None:
        for sockets in self._sockets:
            await sockets.close()
        for runner in self._runners:
            await runner.cleanup()


async def _serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound_host, bound_port = runner.addresses[0][:2]
    return runner, f"http://{bound_host}:{bound_port}"


async def start_cloud(
    config: CloudConfig,
    store: CloudStore,
    *,
    host: str = "127.0.0.1",
    ports: CloudPorts | None = None,
    inventory: InventoryRoutes | None = None,
) -> RunningCloud:
    ports = ports or CloudPorts()
    runners: list[web.AppRunner] = []
    sockets: list[SocketIngest] = []
    try:
        api, api_url = await _serve(create_app(config, store, inventory), host, ports.api)
        runners.append(api)
        harvest, harvest_url = await _serve(create_harvest_ingest_app(config, store), host, ports.harvest)
        runners.append(harvest)
        unified, unified_url = await _serve(create_unified_ingest_app(config, store), host, ports.unified)
        runners.append(unified)
        files, files_url = await _serve(create_files_ingest_app(config, store), host, ports.files)
        runners.append(files)
        harvest_socket = await start_socket_ingest(
            harvest_socket_handler(config, store), host, ports.harvest_socket
        )
        sockets.append(harvest_socket)
        unified_socket = await start_socket_ingest(
            unified_socket_handler(config, store), host, ports.unified_socket
        )
        sockets.append(unified_socket)
    except BaseException:
        for started in sockets:
            await started.close()
        for runner in runners:
            await runner.cleanup()
        raise
    return RunningCloud(
        api_url=api_url,
        harvest_url=harvest_url,
        harvest_socket=harvest_socket.address,
        unified_url=unified_url,
        unified_socket=unified_socket.address,
        files_url=files_url,
        _runners=tuple(runners),
        _sockets=tuple(sockets),
    )
