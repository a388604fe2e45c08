"""A local bootstrap server that behaves as Soracom's does over the SIM network.

On ``POST /bs?ep=NAME`` it answers 2.04, then drives the client exactly as SORACOM-NOTES.md
describes: DELETE with no path, TLV Bootstrap-Writes of a Security instance (``/0/1``, including
the read-only resources a DM server may not touch: identity and key) and a Server instance (``/1/0``),
then Bootstrap-Finish. The device id and PSK come from a provisioning callback, which the cloud
emulator's Inventory provides (so the device appears there with those credentials).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiocoap import Code, Context, Message
from aiocoap.error import Error as CoapError
from aiocoap.numbers.contentformat import ContentFormat as CoapContentFormat

from ..client.transport import local_port
from ..core.codecs import encoder_for
from ..core.formats import ContentFormat
from ..core.model import ModelRegistry
from ..core.path import Path
from ..core.values import ResourceValue
from .lwm2m_server import query_options

log = logging.getLogger(__name__)

Provisioner = Callable[[str], Awaitable[tuple[str, bytes]]]


@dataclass
class BootstrapSettings:
    """What the bootstrap server writes; the DM server URI is where clients register next."""

    dm_server_uri: str
    lifetime: int = 60
    binding: str = "U"
    short_server_id: int = 123
    security_mode: int = 0  # PSK, as Soracom Inventory; the emulator's DM server does not check it
    security_instance: int = 1
    server_instance: int = 0


@dataclass
class BootstrapRecord:
    """The outcome of one bootstrap of one endpoint (for tests and the emulator's log)."""

    endpoint: str
    device_id: str = ""
    steps: list[tuple[str, str]] = field(default_factory=list)
    finished: bool = False
    error: str = ""


class BootstrapServer:
    def __init__(self, models: ModelRegistry, settings: BootstrapSettings, provision: Provisioner,
                 host: str = "127.0.0.1", port: int = 0, request_timeout: float = 10.0) -> None:
        self.models = models
        self.settings = settings
        self.provision = provision
        self.host = host
        self.bind_port = port
        self.request_timeout = request_timeout
        self.context: Context | None = None
        self.records: dict[str, BootstrapRecord] = {}
        self.requests = 0  # every POST /bs received, whoever sent it (tests count bootstrap traffic)
        self._tasks: set[asyncio.Task[None]] = set()
        self.completed = asyncio.Condition()

    async def start(self) -> None:
        self.context = await Context.create_server_context(self, bind=(self.host, self.bind_port),
                                                           transports=["udp6"])

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.context is not None:
            await self.context.shutdown()
            self.context = None

    @property
    def port(self) -> int:
        assert self.context is not None
        return local_port(self.context)

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"coap://{host}:{self.port}"

    async def wait_finished(self, endpoint: str, timeout: float = 10.0) -> BootstrapRecord:
        async def waiter() -> None:
            async with self.completed:
                await self.completed.wait_for(
                    lambda: endpoint in self.records and (self.records[endpoint].finished
                                                          or bool(self.records[endpoint].error)))
        await asyncio.wait_for(waiter(), timeout)
        return self.records[endpoint]

    # ---- the aiocoap site -------------------------------------------------------------------------
    async def needs_blockwise_assembly(self, request: Message) -> bool:
        return True

    async def render_to_pipe(self, pipe: object) -> None:
        request: Message = pipe.request  # type: ignore[attr-defined]
        response = Message(code=Code.NOT_FOUND)
        if request.opt.uri_path == ("bs",) and request.code == Code.POST:
            self.requests += 1
            endpoint = query_options(request.opt.uri_query).get("ep", "")
            if not endpoint:
                response = Message(code=Code.BAD_REQUEST, payload=b"missing ep")
            else:
                response = Message(code=Code.CHANGED)
                task = asyncio.get_running_loop().create_task(self._bootstrap(endpoint, request.remote))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        pipe.add_response(response, is_last=True)  # type: ignore[attr-defined]

    # ---- the bootstrap sequence ---------------------------------------------------------------------
    async def _request(self, record: BootstrapRecord, remote: object, code: Code, path: Path,
                       values: list[ResourceValue] | None = None) -> str:
        assert self.context is not None
        msg = Message(code=code, uri_path=tuple(str(i) for i in path))
        msg.remote = remote
        if values is not None:
            msg.payload = encoder_for(ContentFormat.TLV).encode(path, values, self.models)
            msg.opt.content_format = CoapContentFormat(ContentFormat.TLV)
        response = await asyncio.wait_for(self.context.request(msg).response, self.request_timeout)
        step = f"{code} {path}"
        record.steps.append((step, response.code.dotted))
        if not response.code.is_successful():
            raise RuntimeError(f"{step} answered {response.code.dotted} {response.payload[:80]!r}")
        return str(response.code.dotted)

    async def _bootstrap(self, endpoint: str, remote: object) -> None:
        record = BootstrapRecord(endpoint)
        self.records[endpoint] = record
        s = self.settings
        try:
            device_id, key = await self.provision(endpoint)
            record.device_id = device_id
            await self._request(record, remote, Code.DELETE, Path())
            sec = Path(0, s.security_instance)
            await self._request(record, remote, Code.PUT, sec, [
                ResourceValue(sec.child(0), s.dm_server_uri),
                ResourceValue(sec.child(1), False),
                ResourceValue(sec.child(2), s.security_mode),
                ResourceValue(sec.child(3), device_id.encode()),
                ResourceValue(sec.child(4), b""),
                ResourceValue(sec.child(5), key),
                ResourceValue(sec.child(10), s.short_server_id),
            ])
            srv = Path(1, s.server_instance)
            await self._request(record, remote, Code.PUT, srv, [
                ResourceValue(srv.child(0), s.short_server_id),
                ResourceValue(srv.child(1), s.lifetime),
                ResourceValue(srv.child(6), True),
                ResourceValue(srv.child(7), s.binding),
            ])
            assert self.context is not None
            finish = Message(code=Code.POST, uri_path=("bs",))
            finish.remote = remote
            response = await asyncio.wait_for(self.context.request(finish).response, self.request_timeout)
            record.steps.append(("POST /bs", response.code.dotted))
            if response.code != Code.CHANGED:
                raise RuntimeError(f"Bootstrap-Finish answered {response.code.dotted}")
            record.finished = True
            log.info("bootstrapped %s as %s", endpoint, device_id)
        except (TimeoutError, CoapError, RuntimeError) as exc:
            record.error = str(exc) or type(exc).__name__
            log.warning("bootstrap of %s failed: %s", endpoint, record.error)
        finally:
            async with self.completed:
                self.completed.notify_all()
