"""The telemetry of one agent: for each destination, a sampler that queues readings and a deliverer.

A sampler reads the destination's resources (through the same read path a server Read takes) every
``interval`` seconds, and puts the reading in the durable queue; nothing else happens to it before it is
on disk. The destination's :class:`~agent.telemetry.delivery.Deliverer` then sends it when the receiver
can take it. The two are independent: readings pile up in the queue, within its limits, while the
network is down.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
from collections.abc import Awaitable, Callable

from ..core.errors import LwM2MError
from ..core.model import ObjectLink, Value
from ..core.path import Path
from ..tree import ObjectTree
from .delivery import Deliverer, LoopTask, Transport
from .harvest import JsonBody, TcpTransport, UdpTransport, harvest_http, publish, unified_http, values_payload
from .queue import TelemetryQueue
from .settings import JSON_TRANSPORTS, DestinationSettings, Endpoints, TelemetrySettings

log = logging.getLogger(__name__)

ReadResource = Callable[[Path], Awaitable[Value]]


def tree_reader(tree: ObjectTree) -> ReadResource:
    """A ``read(path) -> value`` over the tree, for one resource: what a server Read would see now."""

    async def read(path: Path) -> Value:
        values = await tree.read(path)
        if len(values) != 1:
            raise ValueError(f"{path} is not a single value")
        return values[0].value

    return read


def json_value(value: Value) -> object:
    """A resource value as JSON: numbers, text and booleans as they are, opaque as base64, time as UNIX s."""
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, ObjectLink):
        return f"{value.object_id}:{value.instance_id}"
    return str(value)


def socket_address(url: str | None, default: tuple[str, int]) -> tuple[str, int]:
    """``host:port`` (or ``tcp://host:port``, ``udp://...``) as an address; None gives ``default``."""
    if url is None:
        return default
    text = url.split("://", 1)[-1].rstrip("/")
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def build_transport(dest: DestinationSettings, endpoints: Endpoints, *,
                    extra: Callable[[DestinationSettings], Transport | None] | None = None) -> Transport:
    """The transport of ``dest``; ``extra`` builds the kinds this module does not know (files, Send)."""
    body = JsonBody(dest.id_key, dest.time_key)
    kind = dest.transport
    if kind == "harvest_http":
        return harvest_http(dest.url or endpoints.harvest_url, body)
    if kind == "unified_http":
        return unified_http(dest.url or endpoints.unified_url, body)
    if kind in ("harvest_tcp", "harvest_udp", "unified_tcp", "unified_udp"):
        what, proto = kind.split("_")
        default = endpoints.harvest_socket if what == "harvest" else endpoints.unified_socket
        host, port = socket_address(dest.url, default)
        label = "Harvest" if what == "harvest" else "Unified Endpoint"
        return (TcpTransport if proto == "tcp" else UdpTransport)(host, port, body, what=label)
    if kind == "files":
        from .files import FilesTransport

        return FilesTransport(dest, dest.url or endpoints.files_url)
    if kind == "publish":
        if not dest.device_id or not dest.device_secret:
            raise ValueError(f"telemetry {dest.name}: publish needs device_id and device_secret")
        return publish(dest.url or endpoints.api_url, dest.device_id, dest.device_secret, body)
    transport = extra(dest) if extra is not None else None
    if transport is None:
        raise ValueError(f"telemetry {dest.name}: transport {kind!r} is not available here")
    return transport


class Sampler:
    """Queues a reading of ``dest.resources`` every ``dest.interval`` seconds (the first one at once)."""

    def __init__(self, dest: DestinationSettings, queue: TelemetryQueue, read: ReadResource,
                 make_payload: Callable[[dict[str, Value]], Awaitable[bytes | None]] | None = None) -> None:
        self.dest = dest
        self.queue = queue
        self._read = read
        self._payload = make_payload or self._json_payload
        self._loop = LoopTask(self._run, f"sample-{dest.name}")
        self._unreadable: set[Path] = set()
        self.queued = 0

    def start(self) -> None:
        self._loop.start()

    async def close(self) -> None:
        await self._loop.stop()

    async def sample(self) -> str | None:
        """Read and queue one reading now; returns its id (None when nothing could be read)."""
        values: dict[str, Value] = {}
        for key, path in self.dest.resources:
            try:
                values[key] = await self._read(path)
            except LwM2MError as exc:
                if path not in self._unreadable:
                    log.warning("telemetry %s: %s does not read (%s); left out of the reading", self.dest.name,
                                path, exc.message or exc.code_text)
                    self._unreadable.add(path)
                continue
            self._unreadable.discard(path)
        if self.dest.resources and not values:
            return None
        payload = await self._payload(values)
        if payload is None:
            return None
        reading_id = await self.queue.enqueue(self.dest.name, payload)
        self.queued += 1
        return reading_id

    @staticmethod
    async def _json_payload(values: dict[str, Value]) -> bytes:
        return values_payload({key: json_value(value) for key, value in values.items()})

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                await self.sample()
            except Exception:
                log.exception("telemetry %s: taking a reading failed", self.dest.name)
            next_at += self.dest.interval
            if loop.time() > next_at:  # a slow read: skip the missed slots instead of bursting
                next_at = loop.time() + self.dest.interval


def _file_payload(dest: DestinationSettings) -> Callable[[dict[str, Value]], Awaitable[bytes | None]]:
    """A Harvest Files reading: the file or the command's output, as it is now."""
    from .delivery import DeliveryError
    from .files import take_file

    assert dest.file_source is not None
    source = dest.file_source

    async def take(_values: dict[str, Value]) -> bytes | None:
        try:
            return await take_file(source, dest.limits.max_bytes)
        except DeliveryError as exc:
            log.warning("telemetry %s: no file this time: %s", dest.name, exc.message)
            return None

    return take


class TelemetryService:
    """Samplers and deliverers for every destination of ``settings``, over ``queue``."""

    def __init__(self, settings: TelemetrySettings, queue: TelemetryQueue, read: ReadResource, *,
                 endpoints: Endpoints | None = None,
                 extra_transport: Callable[[DestinationSettings], Transport | None] | None = None,
                 extra_payload: Callable[[DestinationSettings], Callable[[dict[str, Value]],
                                                                         Awaitable[bytes | None]] | None] | None = None,
                 ) -> None:
        self.settings = settings
        self.queue = queue
        self.endpoints = endpoints or Endpoints()
        self.samplers: dict[str, Sampler] = {}
        self.deliverers: dict[str, Deliverer] = {}
        for dest in settings.destinations:
            transport = build_transport(dest, self.endpoints, extra=extra_transport)
            self.deliverers[dest.name] = Deliverer(queue, dest.name, transport, limits=dest.limits,
                                                   retry_initial=dest.retry_initial, retry_max=dest.retry_max)
            make = _file_payload(dest) if dest.file_source is not None else (
                None if dest.transport in JSON_TRANSPORTS or extra_payload is None else extra_payload(dest))
            self.samplers[dest.name] = Sampler(dest, queue, read, make)

    async def start(self) -> None:
        for deliverer in self.deliverers.values():
            deliverer.start()
        for sampler in self.samplers.values():
            sampler.start()

    async def close(self) -> None:
        for sampler in self.samplers.values():
            await sampler.close()
        for deliverer in self.deliverers.values():
            await deliverer.close()
