"""A local LwM2M server: the registration interface plus device management of registered clients.

It is the LwM2M half of the Soracom cloud emulator and the peer the tests drive the agent with, so
it speaks through the same codecs and model types as the agent (``agent.core``) and over a real UDP
socket. Requests to a client go to the exact remote its Register came from, on the server's own
socket, as a real server behind NAT must.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from aiocoap import Code, Context, Message
from aiocoap.blockwise import Block1Spool
from aiocoap.error import Error as CoapError
from aiocoap.error import RenderableError
from aiocoap.numbers.contentformat import ContentFormat as CoapContentFormat

from ..client.transport import local_port
from ..core import linkformat
from ..core.codecs import decoder_for, encoder_for
from ..core.errors import CodecError, LwM2MError
from ..core.formats import ContentFormat
from ..core.model import ModelRegistry
from ..core.path import Path
from ..core.values import ResourceValue

log = logging.getLogger(__name__)

SUPPORTED_VERSIONS = ("1.0", "1.1")
MAX_REGISTER_PAYLOAD = 1 << 20

Admission = Callable[[str, object], str | None]
"""Whether the client at a remote may register (or update, or de-register) an endpoint name: None if
it may, else why not (answered 4.03). The emulator's Inventory checks a DTLS client's PSK identity."""


@dataclass
class ClientRegistration:
    """What the server knows of one registered client."""

    endpoint: str
    location: str
    lifetime: int
    lwm2m_version: str
    binding: str
    remote: object
    links: list[linkformat.Link]
    registered_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.monotonic)
    updates: int = 0
    queue_mode: bool = False

    @property
    def object_links(self) -> list[str]:
        return [link.target for link in self.links if link.target != "/"]

    @property
    def root_content_format(self) -> int | None:
        for link in self.links:
            if link.target == "/" and link.attributes.get("ct"):
                with contextlib.suppress(ValueError):
                    return int(str(link.attributes["ct"]).split()[0])
        return None

    def expired(self, now: float) -> bool:
        # A grace period like Leshan's: a client whose Update is a little late is kept.
        return now > self.updated_at + self.lifetime * 1.1 + 5


@dataclass
class Result:
    """The answer of a client to one request."""

    code: str
    payload: bytes = b""
    content_format: int | None = None
    values: list[ResourceValue] = field(default_factory=list)
    location: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code.startswith("2.")

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")

    def value(self) -> object:
        """The single value of a resource read."""
        if len(self.values) != 1:
            raise ValueError(f"expected one value, got {len(self.values)}")
        return self.values[0].value


class ClientError(Exception):
    """A request to a client failed: it answered an error code, or it is not registered or reachable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}".strip())
        self.code = code
        self.message = message


class Observation:
    """A server-side observation: iterate it for notifications (values decoded), cancel when done."""

    def __init__(self, server: LwM2MServer, endpoint: str, path: Path, request: object,
                 content_format: int | None) -> None:
        self.server = server
        self.endpoint = endpoint
        self.path = path
        self.token: bytes = b""
        self._request = request
        self.content_format = content_format
        self.queue: asyncio.Queue[Result] = asyncio.Queue()
        self.first: Result | None = None
        self.cancelled = False
        self._task: asyncio.Task[None] | None = None

    @property
    def notifying(self) -> bool:
        """True when the client took the observation (its first answer carried Observe), so
        notifications may follow; False when it refused or answered a plain read."""
        return self._task is not None

    def __aiter__(self) -> AsyncIterator[Result]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Result]:
        while True:
            yield await self.queue.get()

    async def next(self, timeout: float = 5.0) -> Result:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def cancel(self, mode: str = "rst") -> None:
        """Cancel: ``rst`` forgets the token (the client's next notification is answered RST);
        ``get`` sends GET with Observe=1 on the same token (the LwM2M 1.0 Cancel Observation)."""
        self.cancelled = True
        if mode == "get":
            reg = self.server.registration(self.endpoint)
            msg = Message(code=Code.GET, uri_path=_segments(self.path), observe=1, token=self.token)
            msg.remote = reg.remote
            if self.content_format is not None:
                msg.opt.accept = CoapContentFormat(self.content_format)
            with contextlib.suppress(CoapError, asyncio.TimeoutError):
                await asyncio.wait_for(self.server.context_required.request(msg).response, 10)
        request = self._request
        with contextlib.suppress(Exception):
            request.observation.cancel()  # type: ignore[attr-defined]
        if self._task is not None:
            self._task.cancel()


def _segments(path: Path) -> tuple[str, ...]:
    return tuple(str(i) for i in path)


class LwM2MServer:
    """A LwM2M server on one UDP socket; see the module docstring."""

    def __init__(self, models: ModelRegistry, host: str = "127.0.0.1", port: int = 0, *,
                 versions: Sequence[str] = SUPPORTED_VERSIONS, request_timeout: float = 10.0) -> None:
        self.models = models
        self.host = host
        self.bind_port = port
        self.versions = tuple(versions)
        self.request_timeout = request_timeout
        self.context: Context | None = None
        self._by_endpoint: dict[str, ClientRegistration] = {}
        self._by_location: dict[str, ClientRegistration] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self.on_register: list[Callable[[ClientRegistration], None]] = []
        self.on_update: list[Callable[[ClientRegistration], None]] = []
        self.on_deregister: list[Callable[[ClientRegistration], None]] = []
        self.on_send: list[Callable[[ClientRegistration, list[ResourceValue]], None]] = []
        self.sent: list[tuple[str, list[ResourceValue]]] = []
        self.admission: Admission | None = None
        self._expiry_task: asyncio.Task[None] | None = None

    # ---- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self.context = await Context.create_server_context(
            _ServerSite(self), bind=(self.host, self.bind_port), transports=["udp6"]
        )
        self._expiry_task = asyncio.get_running_loop().create_task(self._expire_loop())

    async def stop(self) -> None:
        if self._expiry_task is not None:
            self._expiry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry_task
        if self.context is not None:
            await self.context.shutdown()
            self.context = None

    @property
    def port(self) -> int:
        return local_port(self.context_required)

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"coap://{host}:{self.port}"

    @property
    def context_required(self) -> Context:
        if self.context is None:
            raise RuntimeError("server not started")
        return self.context

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for reg in [r for r in self._by_endpoint.values() if r.expired(now)]:
                log.info("registration of %s expired", reg.endpoint)
                self._remove(reg)

    # ---- registrations ------------------------------------------------------------------------
    @property
    def registrations(self) -> dict[str, ClientRegistration]:
        return dict(self._by_endpoint)

    def registration(self, endpoint: str) -> ClientRegistration:
        reg = self._by_endpoint.get(endpoint)
        if reg is None:
            raise ClientError("4.04", f"device {endpoint!r} is not registered")
        return reg

    def is_registered(self, endpoint: str) -> bool:
        return endpoint in self._by_endpoint

    def forget(self, endpoint: str) -> None:
        """Drop a registration without telling the client (its next Update gets 4.04)."""
        reg = self._by_endpoint.get(endpoint)
        if reg is not None:
            self._remove(reg, notify=False)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds; it is re-checked on every registration event."""
        async def waiter() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)
        await asyncio.wait_for(waiter(), timeout)

    async def wait_registered(self, endpoint: str, timeout: float = 5.0) -> ClientRegistration:
        await self.wait_for(lambda: endpoint in self._by_endpoint, timeout)
        return self._by_endpoint[endpoint]

    def _remove(self, reg: ClientRegistration, notify: bool = True) -> None:
        self._by_endpoint.pop(reg.endpoint, None)
        self._by_location.pop(reg.location, None)
        if notify:
            for cb in self.on_deregister:
                cb(reg)
        self._poke()

    def _poke(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()
        asyncio.get_running_loop().create_task(notify())

    def _refusal(self, endpoint: str, request: Message) -> Message | None:
        refused = self.admission(endpoint, request.remote) if self.admission is not None else None
        if refused is None:
            return None
        log.info("%s refused for %s: %s", request.code, endpoint, refused)
        return Message(code=Code.FORBIDDEN, payload=refused.encode()[:200])

    def handle_register(self, request: Message) -> Message:
        query = query_options(request.opt.uri_query)
        endpoint = query.get("ep")
        if not endpoint:
            return Message(code=Code.BAD_REQUEST, payload=b"missing ep")
        refusal = self._refusal(endpoint, request)
        if refusal is not None:
            return refusal
        version = query.get("lwm2m", "1.0")
        if version not in self.versions:
            return Message(code=Code.PRECONDITION_FAILED, payload=f"unsupported LwM2M version {version}".encode())
        try:
            lifetime = int(query.get("lt", "86400"))
            links = linkformat.parse_links(request.payload.decode("utf-8")) if request.payload else []
        except (ValueError, CodecError, UnicodeDecodeError) as exc:
            return Message(code=Code.BAD_REQUEST, payload=str(exc).encode()[:200])
        old = self._by_endpoint.get(endpoint)
        if old is not None:
            self._by_location.pop(old.location, None)
        location = f"rd/{next(self._ids)}"
        reg = ClientRegistration(
            endpoint=endpoint, location=location, lifetime=lifetime, lwm2m_version=version,
            binding=query.get("b", "U"), remote=request.remote, links=links, queue_mode="Q" in query,
        )
        self._by_endpoint[endpoint] = reg
        self._by_location[location] = reg
        for cb in self.on_register:
            cb(reg)
        self._poke()
        response = Message(code=Code.CREATED)
        response.opt.location_path = tuple(location.split("/"))
        return response

    def handle_update(self, location: str, request: Message) -> Message:
        reg = self._by_location.get(location)
        if reg is None:
            return Message(code=Code.NOT_FOUND, payload=b"unknown registration")
        refusal = self._refusal(reg.endpoint, request)
        if refusal is not None:
            return refusal
        query = query_options(request.opt.uri_query)
        try:
            if "lt" in query:
                reg.lifetime = int(query["lt"])
            if request.payload:
                reg.links = linkformat.parse_links(request.payload.decode("utf-8"))
        except (ValueError, CodecError, UnicodeDecodeError) as exc:
            return Message(code=Code.BAD_REQUEST, payload=str(exc).encode()[:200])
        if "b" in query:
            reg.binding = query["b"]
        reg.remote = request.remote
        reg.updated_at = time.monotonic()
        reg.updates += 1
        for cb in self.on_update:
            cb(reg)
        self._poke()
        return Message(code=Code.CHANGED)

    def handle_deregister(self, location: str, request: Message) -> Message:
        reg = self._by_location.get(location)
        if reg is None:
            return Message(code=Code.NOT_FOUND)
        refusal = self._refusal(reg.endpoint, request)
        if refusal is not None:
            return refusal
        self._remove(reg)
        return Message(code=Code.DELETED)

    def handle_send(self, request: Message) -> Message:
        reg = next((r for r in self._by_endpoint.values() if r.remote == request.remote), None)
        if reg is None:
            return Message(code=Code.UNAUTHORIZED, payload=b"send from an unregistered client")
        if request.opt.content_format is None:
            return Message(code=Code.BAD_REQUEST, payload=b"no content format")
        try:
            values = decoder_for(int(request.opt.content_format)).decode(request.payload, Path(), self.models)
        except LwM2MError as exc:
            klass, detail = exc.code
            return Message(code=Code((klass << 5) | detail), payload=exc.message.encode()[:200])
        self.sent.append((reg.endpoint, values))
        for cb in self.on_send:
            cb(reg, values)
        self._poke()
        return Message(code=Code.CHANGED)

    # ---- device management --------------------------------------------------------------------
    async def request(self, endpoint: str, code: Code, path: Path, *, payload: bytes = b"",
                      content_format: int | None = None, accept: int | None = None,
                      query: Sequence[str] = (), observe: int | None = None) -> Result:
        """Send one request to a registered client and decode its answer."""
        reg = self.registration(endpoint)
        msg = Message(code=code, uri_path=_segments(path), payload=payload)
        if observe is not None:
            msg.opt.observe = observe
        msg.remote = reg.remote
        if content_format is not None:
            msg.opt.content_format = CoapContentFormat(content_format)
        if accept is not None:
            msg.opt.accept = CoapContentFormat(accept)
        if query:
            msg.opt.uri_query = tuple(query)
        try:
            response = await asyncio.wait_for(self.context_required.request(msg).response, self.request_timeout)
        except (TimeoutError, CoapError) as exc:
            raise ClientError("5.03", f"device {endpoint!r} did not answer: {exc or 'timeout'}") from None
        return self._result(response, path)

    def _result(self, response: Message, path: Path) -> Result:
        cf = int(response.opt.content_format) if response.opt.content_format is not None else None
        result = Result(code=response.code.dotted, payload=response.payload, content_format=cf,
                        location=tuple(response.opt.location_path or ()))
        if result.ok and cf is not None and cf != ContentFormat.LINK_FORMAT and response.payload:
            result.values = decoder_for(cf).decode(response.payload, path, self.models)
        return result

    async def read(self, endpoint: str, path: Path | str, content_format: int | None = None) -> Result:
        return await self.request(endpoint, Code.GET, _path(path), accept=content_format)

    async def discover(self, endpoint: str, path: Path | str) -> Result:
        return await self.request(endpoint, Code.GET, _path(path), accept=ContentFormat.LINK_FORMAT)

    async def write(self, endpoint: str, path: Path | str, values: Sequence[ResourceValue] | object, *,
                    replace: bool = True, content_format: int = ContentFormat.TLV) -> Result:
        """Write values (a list of ResourceValue, or one plain value for a resource path)."""
        p = _path(path)
        if not isinstance(values, list):
            values = [ResourceValue(p, values)]  # type: ignore[arg-type]
        payload = encoder_for(content_format).encode(p, values, self.models)
        return await self.request(endpoint, Code.PUT if replace else Code.POST, p,
                                  payload=payload, content_format=content_format)

    async def write_attributes(self, endpoint: str, path: Path | str, **attributes: object) -> Result:
        query = [k if v is None else f"{k}={v}" for k, v in attributes.items()]
        return await self.request(endpoint, Code.PUT, _path(path), query=query)

    async def execute(self, endpoint: str, path: Path | str, arguments: str = "") -> Result:
        return await self.request(endpoint, Code.POST, _path(path), payload=arguments.encode(),
                                  content_format=ContentFormat.TEXT if arguments else None)

    async def create(self, endpoint: str, path: Path | str, values: Sequence[ResourceValue], *,
                     content_format: int = ContentFormat.TLV) -> Result:
        p = _path(path)
        payload = encoder_for(content_format).encode(p, values, self.models)
        return await self.request(endpoint, Code.POST, p, payload=payload, content_format=content_format)

    async def delete(self, endpoint: str, path: Path | str) -> Result:
        return await self.request(endpoint, Code.DELETE, _path(path))

    async def read_composite(self, endpoint: str, paths: Sequence[Path | str],
                             content_format: int = ContentFormat.SENML_CBOR) -> Result:
        from ..core.codecs import senml

        body = senml.encode_paths([_path(p) for p in paths], content_format)
        return await self.request(endpoint, Code.FETCH, Path(), payload=body,
                                  content_format=content_format, accept=content_format)

    async def write_composite(self, endpoint: str, values: Sequence[ResourceValue],
                              content_format: int = ContentFormat.SENML_CBOR) -> Result:
        payload = encoder_for(content_format).encode(Path(), values, self.models)
        return await self.request(endpoint, Code.iPATCH, Path(), payload=payload,
                                  content_format=content_format)

    async def observe(self, endpoint: str, path: Path | str, content_format: int | None = None,
                      ) -> Observation:
        """Start observing; the first answer is ``observation.first``, notifications come after."""
        p = _path(path)
        reg = self.registration(endpoint)
        msg = Message(code=Code.GET, uri_path=_segments(p), observe=0)
        msg.remote = reg.remote
        if content_format is not None:
            msg.opt.accept = CoapContentFormat(content_format)
        request = self.context_required.request(msg)
        obs = Observation(self, endpoint, p, request, content_format)
        try:
            first = await asyncio.wait_for(request.response, self.request_timeout)
        except (TimeoutError, CoapError) as exc:
            raise ClientError("5.03", f"device {endpoint!r} did not answer: {exc or 'timeout'}") from None
        obs.token = first.token
        obs.first = self._result(first, p)
        if not obs.first.ok or first.opt.observe is None:
            return obs

        async def pump() -> None:
            try:
                async for notification in request.observation:
                    if obs.cancelled:
                        return
                    try:
                        obs.queue.put_nowait(self._result(notification, p))
                    except LwM2MError as exc:
                        log.warning("undecodable notification from %s: %s", endpoint, exc)
            except CoapError as exc:
                obs.queue.put_nowait(Result(code="5.03", payload=str(exc).encode()))

        obs._task = asyncio.get_running_loop().create_task(pump())
        return obs


def _path(path: Path | str) -> Path:
    return path if isinstance(path, Path) else Path.parse(path)


def query_options(options: Sequence[str]) -> dict[str, str]:
    """CoAP Uri-Query options (``ep=name``, ``lt=60``, ``Q``) as a dict; a bare flag maps to ``""``."""
    out: dict[str, str] = {}
    for option in options:
        key, _, value = option.partition("=")
        out[key] = value
    return out


class _ServerSite:
    """The server's CoAP resources: ``/rd`` (registration), ``/rd/{id}``, ``/dp`` (Send)."""

    def __init__(self, server: LwM2MServer) -> None:
        self.server = server
        self._block1 = Block1Spool()

    async def needs_blockwise_assembly(self, request: Message) -> bool:
        return True

    async def render_to_pipe(self, pipe: object) -> None:
        request: Message = pipe.request  # type: ignore[attr-defined]
        path = request.opt.uri_path
        try:
            # A Register listing many objects goes blockwise (RFC 7959): reassemble it first.
            if request.opt.block1 is not None:
                if request.opt.block1.start + len(request.payload) > MAX_REGISTER_PAYLOAD:
                    pipe.add_response(Message(code=Code.REQUEST_ENTITY_TOO_LARGE), is_last=True)  # type: ignore
                    return
                try:
                    request = self._block1.feed_and_take(request)
                except RenderableError as exc:
                    pipe.add_response(exc.to_message(), is_last=True)  # type: ignore[attr-defined]
                    return
            if path == ("rd",) and request.code == Code.POST:
                response = self.server.handle_register(request)
            elif len(path) == 2 and path[0] == "rd" and request.code == Code.POST:
                response = self.server.handle_update("/".join(path), request)
            elif len(path) == 2 and path[0] == "rd" and request.code == Code.DELETE:
                response = self.server.handle_deregister("/".join(path), request)
            elif path == ("dp",) and request.code == Code.POST:
                response = self.server.handle_send(request)
            else:
                response = Message(code=Code.NOT_FOUND)
        except Exception as exc:  # the server must keep serving whatever a client sends
            log.exception("server failed on %s", request)
            response = Message(code=Code.INTERNAL_SERVER_ERROR, payload=str(exc).encode()[:200])
        response.opt.block1 = request.opt.block1
        pipe.add_response(response, is_last=True)  # type: ignore[attr-defined]
