"""Harvest Data's device-side entry points: HTTP, TCP/UDP and the Unified Endpoint.

On the real service these live on their own hosts (``harvest.soracom.io``, ``uni.soracom.io``) and learn
which SIM is talking from the cellular network. The emulator serves each as a small app or socket server
and takes the sender's identity as ``CloudConfig`` documents (a header, else the source address, else a
default resource). What is stored follows one rule: textual payloads (``text/*``, JSON, XML, form data)
are kept as text, anything else is stored base64-encoded, because an entry's ``content`` is a string.
TCP and UDP carry no Content-Type, so JSON is recognised, other UTF-8 is ``text/plain`` and the rest is
``application/octet-stream``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from agent.simulator.cloud.config import IMSI_HEADER, SIM_ID_HEADER, CloudConfig, ResourceRef
from agent.simulator.cloud.context import CONFIG, STORE, config_of, store_of
from agent.simulator.cloud.errors import Handler, bad_request, error_middleware, error_response
from agent.simulator.cloud.records import RuleViolation
from agent.simulator.cloud.sockets import Peer, SocketHandler
from agent.simulator.cloud.store import CloudStore, now_ms

TIMESTAMP_HEADER = "X-Soracom-Timestamp"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_TEXT_TYPES = ("application/json", "application/xml", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class IngestResult:
    """What a destination answered: an HTTP status and a message (empty on success)."""

    status: int
    message: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def resolve_source(config: CloudConfig, headers: Mapping[str, str] | None, peer: Peer) -> ResourceRef:
    """Who sent the data: an identity header, else the source address, else the default resource."""
    if headers is not None:
        imsi = headers.get(IMSI_HEADER)
        if imsi:
            return ResourceRef("Subscriber", imsi)
        sim_id = headers.get(SIM_ID_HEADER)
        if sim_id:
            return ResourceRef("Sim", sim_id)
    if peer is not None:
        host, port = peer[0], peer[1]
        for key in (f"{host}:{port}", host):
            if key in config.source_resources:
                return config.source_resources[key]
    return config.default_resource


def is_textual(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith(("+json", "+xml"))


def entry_content(payload: bytes, content_type: str) -> str:
    """The entry's ``content`` string for a payload of this type (see the module docstring)."""
    if is_textual(content_type):
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            raise RuleViolation(
                f"the payload is not UTF-8 text, as its Content-Type {content_type} says"
            ) from None
    return base64.b64encode(payload).decode("ascii")


def guess_content_type(payload: bytes) -> str:
    """For TCP/UDP payloads, which carry no Content-Type."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return DEFAULT_CONTENT_TYPE
    try:
        json.loads(text)
    except ValueError:
        return "text/plain"
    return "application/json"


def harvest_data(
    config: CloudConfig,
    store: CloudStore,
    source: ResourceRef,
    payload: bytes,
    content_type: str,
    time_ms: int | None = None,
) -> IngestResult:
    """Harvest Data's answer to one payload: 201 stored, or 400 with the reason."""
    if not config.harvest_enabled:
        return IngestResult(400, "Harvest Data is not enabled for the group of this resource")
    if len(payload) > config.harvest_max_entry_bytes:
        return IngestResult(400, f"the payload exceeds {config.harvest_max_entry_bytes} bytes")
    try:
        content = entry_content(payload, content_type)
    except RuleViolation as exc:
        return IngestResult(400, str(exc))
    store.add_data_entry(
        source.resource_type,
        source.resource_id,
        now_ms() if time_ms is None else time_ms,
        content_type,
        content,
    )
    return IngestResult(201)


def timestamp_header(headers: Mapping[str, str]) -> int | None:
    raw = headers.get(TIMESTAMP_HEADER)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"{TIMESTAMP_HEADER} must be UNIX time in milliseconds, not {raw!r}") from None


def peer_of(request: web.Request) -> Peer:
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    return (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) and len(peer) >= 2 else None


def http_answer(result: IngestResult) -> web.Response:
    if result.ok:
        return web.Response(status=result.status)
    return error_response(result.status, "COM0001", result.message)


async def harvest_post(request: web.Request) -> web.Response:
    config, store = config_of(request), store_of(request)
    payload = await request.read()
    content_type = request.headers.get("Content-Type", DEFAULT_CONTENT_TYPE)
    source = resolve_source(config, request.headers, peer_of(request))
    return http_answer(
        harvest_data(config, store, source, payload, content_type, timestamp_header(request.headers))
    )


# ---- Unified Endpoint ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnifiedAnswer:
    status: int
    body: bytes
    content_type: str | None


def unified_forward(
    config: CloudConfig, store: CloudStore, source: ResourceRef, payload: bytes, content_type: str
) -> UnifiedAnswer:
    """Forward to every enabled destination and answer as the configured format says."""
    results: dict[str, IngestResult] = {}
    if config.harvest_enabled:
        results["harvest"] = harvest_data(config, store, source, payload, content_type)
    for name, status in config.unified_extra_services.items():
        results[name] = IngestResult(status, "" if 200 <= status < 300 else f"{name} answered {status}")
    if not results:
        body = json.dumps({"code": "COM0001", "message": "no destination is enabled for this group"})
        return UnifiedAnswer(400, body.encode(), "application/json")
    if config.unified_format == "auto" and len(results) == 1:
        (single,) = results.values()
        if single.ok:
            return UnifiedAnswer(single.status, b"", None)
        body = json.dumps({"code": "COM0001", "message": single.message})
        return UnifiedAnswer(single.status, body.encode(), "application/json")
    all_ok = all(result.ok for result in results.values())
    unified = {
        "result": "ok" if all_ok else "ng",
        "detail": {name: {"statusCode": r.status, "body": r.message} for name, r in results.items()},
    }
    return UnifiedAnswer(200 if all_ok else 207, json.dumps(unified).encode(), "application/json")


async def unified_post(request: web.Request) -> web.Response:
    config, store = config_of(request), store_of(request)
    payload = await request.read()
    content_type = request.headers.get("Content-Type", DEFAULT_CONTENT_TYPE)
    source = resolve_source(config, request.headers, peer_of(request))
    # The Unified Endpoint takes no custom timestamp (Soracom's docs), so X-Soracom-Timestamp is ignored.
    answer = unified_forward(config, store, source, payload, content_type)
    if answer.content_type is None:
        return web.Response(status=answer.status)
    return web.Response(status=answer.status, body=answer.body, content_type=answer.content_type)


def socket_reply(config: CloudConfig, status: int, message: str) -> bytes:
    return config.socket_reply_template.format(status=status, message=message).strip().encode()


def harvest_socket_handler(config: CloudConfig, store: CloudStore) -> SocketHandler:
    def handle(payload: bytes, peer: Peer) -> bytes:
        source = resolve_source(config, None, peer)
        result = harvest_data(config, store, source, payload, guess_content_type(payload))
        return socket_reply(config, result.status, result.message)

    return handle


def unified_socket_handler(config: CloudConfig, store: CloudStore) -> SocketHandler:
    def handle(payload: bytes, peer: Peer) -> bytes:
        source = resolve_source(config, None, peer)
        answer = unified_forward(config, store, source, payload, guess_content_type(payload))
        return socket_reply(config, answer.status, answer.body.decode())

    return handle


def _ingest_app(config: CloudConfig, store: CloudStore, handler: Handler) -> web.Application:
    # Bodies up to well past the entry limit reach Harvest's own check, which answers 400 as the service
    # documents, rather than aiohttp's 413.
    app = web.Application(
        middlewares=[error_middleware],
        client_max_size=max(16 * 1024 * 1024, 2 * config.harvest_max_entry_bytes),
    )
    app[CONFIG] = config
    app[STORE] = store
    app.router.add_post("/", handler)
    return app


def create_harvest_ingest_app(config: CloudConfig, store: CloudStore) -> web.Application:
    """``POST /`` as ``harvest.soracom.io`` answers it: 201, or 400 with the reason."""
    return _ingest_app(config, store, harvest_post)


def create_unified_ingest_app(config: CloudConfig, store: CloudStore) -> web.Application:
    """``POST /`` as ``uni.soracom.io`` answers it (see ``CloudConfig.unified_format``)."""
    return _ingest_app(config, store, unified_post)
