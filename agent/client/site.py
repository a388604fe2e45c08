"""The CoAP face of the agent: one aiocoap site that turns server requests into tree operations.

LwM2M paths are dynamic (instances come and go), so instead of aiocoap's path-routed ``Site`` the
agent serves everything from one resource that parses the path itself and dispatches on method,
options and path level, as the LwM2M 1.1 §6 (Device Management) and §5.2 (Bootstrap) tables say:

========================  ==========================================================
GET                       Read; Discover when Accept is link-format; Observe / Cancel
PUT                       Write (replace); Write-Attributes when there is no payload
POST                      Write (partial update) on an instance; Execute on a resource;
                          Create on an object; Bootstrap-Finish on ``/bs``
DELETE                    Delete an instance (bootstrap: anything)
FETCH / iPATCH            Read-Composite (and Observe-Composite) / Write-Composite
========================  ==========================================================

Every :class:`~agent.core.errors.LwM2MError` becomes its CoAP code with the message as diagnostic
payload; any other exception is logged and answered 5.00 (a bug), so no request can stop the agent.
Error answers are counted and summarised once a minute (incidents.py), never logged one by one.
Block1 uploads are reassembled within the bounds of uploads.py; a peer the owner's ``accepts``
refuses gets 4.01 (the UDP transport has already dropped strangers, see guard.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiocoap import Code, Message
from aiocoap.blockwise import Block2Cache
from aiocoap.error import RenderableError

from ..core import linkformat
from ..core.attributes import parse_query
from ..core.codecs import decoder_for, encoder_for
from ..core.errors import (
    BadRequest,
    LwM2MError,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
    UnsupportedContentFormat,
)
from ..core.formats import ContentFormat
from ..core.path import Path
from ..core.values import ResourceValue
from .guard import source_of
from .incidents import IncidentLog
from .responses import content_response, error_response
from .uploads import Block1Uploads, TooLarge, UploadLimits

if TYPE_CHECKING:
    from aiocoap.pipe import Pipe

    from .session import ServerSession

log = logging.getLogger(__name__)

class LwM2MSite:
    """The aiocoap server site of an agent: the device-management and bootstrap interfaces.

    ``session_for`` maps a request's remote to the :class:`ServerSession` that holds that server's
    attributes, observations and preferences; a request from an unknown peer is served with the
    defaults of the first session (a server may talk to us before its Register answer arrives).
    """

    def __init__(self, session_for: Callable[[object], ServerSession], *,
                 accepts: Callable[[object], bool] | None = None,
                 incidents: IncidentLog | None = None, uploads: UploadLimits | None = None) -> None:
        self._session_for = session_for
        # The transport refuses strangers before aiocoap keeps anything (see guard.py); this check
        # is for transports that cannot (a DTLS session's identity is known only up here).
        self._accepts = accepts
        self.incidents = incidents or IncidentLog("requests answered with an error")
        self.uploads = Block1Uploads(uploads)
        self._block2 = Block2Cache()

    async def render_to_pipe(self, pipe: Pipe) -> None:
        request: Message = pipe.request
        if self._accepts is not None and not self._accepts(request.remote):
            self.incidents.note("4.01 not a server of this agent", source_of(request.remote))
            pipe.add_response(error_response(Unauthorized("not a server of this agent")), is_last=True)
            return
        session = self._session_for(request.remote)
        try:
            if request.opt.uri_path[:1] == ("0",) and not session.bootstrapping:
                # Before Observe and blockwise handling, which would otherwise answer for the
                # Security object (it holds the PSK) without reaching _dispatch's check.
                raise Unauthorized("the Security object is only open to a bootstrap server")
            if request.opt.block1 is not None:
                assembled = self.uploads.feed(request)
                if assembled is None:
                    pipe.add_response(_continue(request), is_last=True)
                    return
                request = assembled
            if request.opt.observe is not None and request.code in (Code.GET, Code.FETCH):
                if (request.opt.observe == 0 and request.opt.block2 is None
                        and session.observations.admits(request.remote, request.token)):
                    await session.observations.observe(pipe, session)
                    return
                if request.opt.observe != 0:
                    session.observations.cancel(request.remote, request.token, self._path_of(request))
            response = await self._block2.extract_or_insert(request, lambda: self._respond(request, session))
            response.opt.block1 = request.opt.block1
        except TooLarge as exc:
            response = error_response(exc)
            response.opt.size1 = exc.max_size
        except LwM2MError as exc:
            response = error_response(exc)
        except RenderableError as exc:  # blockwise Incomplete from aiocoap's Block2 cache
            response = exc.to_message()
        if not response.code.is_successful():
            self.incidents.note(response.code.dotted, source_of(request.remote))
        pipe.add_response(response, is_last=True)

    async def _respond(self, request: Message, session: ServerSession) -> Message:
        """One request to one response; every failure becomes an error code, never an exception."""
        try:
            return await self._dispatch(request, session)
        except LwM2MError as exc:
            return error_response(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("request %s %s failed", request.code, request.opt.uri_path)
            return Message(code=Code.INTERNAL_SERVER_ERROR, payload=f"internal error: {exc}".encode()[:200])

    # aiocoap calls these on sites that do not implement render_to_pipe; kept for its interface checks.
    async def needs_blockwise_assembly(self, request: Message) -> bool:
        return True

    @staticmethod
    def _path_of(request: Message) -> Path:
        return Path.from_segments(request.opt.uri_path)

    async def _dispatch(self, request: Message, session: ServerSession) -> Message:
        code = request.code
        segments = request.opt.uri_path
        if segments == ("bs",):
            if code != Code.POST:
                raise MethodNotAllowed("only POST /bs (Bootstrap-Finish) is defined")
            await session.bootstrap_finish()
            return Message(code=Code.CHANGED)
        path = self._path_of(request)
        if path and path[0] == 0 and not session.bootstrapping:
            raise Unauthorized("the Security object is only open to a bootstrap server")
        handler = _HANDLERS.get(code)
        if handler is None:
            raise MethodNotAllowed(f"method {code} is not an LwM2M operation")
        return await handler(self, request, path, session)

    # ---- GET: Read / Discover ---------------------------------------------------------------
    async def _get(self, request: Message, path: Path, session: ServerSession) -> Message:
        accept = request.opt.accept
        if accept is not None and int(accept) == ContentFormat.LINK_FORMAT:
            return content_response(self.discover(path, session).encode(), ContentFormat.LINK_FORMAT)
        values = await session.tree.read(path)
        fmt = session.response_format(accept, path)
        return content_response(encoder_for(fmt).encode(path, values, session.tree.models), fmt)

    def discover(self, path: Path, session: ServerSession) -> str:
        """Discover (LwM2M 1.0 §5.4.2): the paths under ``path`` with their attributes."""
        tree = session.tree
        if session.bootstrapping:
            return linkformat.format_links(session.bootstrap_discover_links(path))
        if len(path) == 0:
            raise MethodNotAllowed("discover of the root is only defined during bootstrap")
        if not tree.exists(path):
            raise NotFound(f"{path} does not exist")
        if len(path) == 4:
            raise MethodNotAllowed("discover of a resource instance is not defined")
        links: list[linkformat.Link] = []
        node = tree.objects[path[0]]

        def add(p: Path, extra: dict[str, str | None] | None = None) -> None:
            attrs: dict[str, str | None] = dict(extra or {})
            attrs.update(session.attributes.discover_attributes(p))
            links.append(linkformat.Link(str(p), attrs))

        if len(path) == 1:
            add(path, node.model.version_attributes())
            for iid in sorted(node.instances):
                add(path.child(iid))
                for rid in sorted(node.instances[iid].resources):
                    if rid in node.model.resources:
                        add(Path(path[0], iid, rid))
            return linkformat.format_links(links)
        if len(path) == 2:
            add(path)
        for rpath in tree.resource_paths(path):
            add(rpath)
        return linkformat.format_links(links)

    # ---- PUT: Write replace / Write-Attributes / Bootstrap-Write -----------------------------------
    async def _put(self, request: Message, path: Path, session: ServerSession) -> Message:
        if request.opt.content_format is None and not request.payload:
            if session.bootstrapping:
                raise BadRequest("write-attributes is not allowed during bootstrap")
            if len(path) == 0:
                raise MethodNotAllowed("attributes cannot be written on the root")
            if not session.tree.exists(path):
                raise NotFound(f"{path} does not exist")
            update = parse_query(list(request.opt.uri_query))
            rmodel = session.tree.models.resource(path) if len(path) >= 3 else None
            session.attributes.apply(path, update, rmodel.type if rmodel else None)
            session.observations.attributes_changed(path)
            session.tree_changed("attributes", path)
            return Message(code=Code.CHANGED)
        if not session.bootstrapping:
            if len(path) < 2:
                raise MethodNotAllowed("write needs an instance, resource or resource-instance path")
            _require(session, path if len(path) < 4 else Path(*path[:3]))
        values = self._decode(request, path, session)
        if session.bootstrapping:
            await session.tree.write(path, values, replace=True, bootstrap=True)
            session.tree_changed("bootstrap", path)
            return Message(code=Code.CHANGED)
        await session.tree.write(path, values, replace=True)
        session.tree_changed("write", path)
        return Message(code=Code.CHANGED)

    # ---- POST: Execute / Create / partial Write -----------------------------------------------
    async def _post(self, request: Message, path: Path, session: ServerSession) -> Message:
        if len(path) in (2, 3):
            _require(session, path)
        if len(path) == 3:
            if request.opt.content_format is not None and int(request.opt.content_format) not in (
                ContentFormat.TEXT,
            ) and session.tree.exists(path):
                model, _ = session.tree.binding(path)
                if not model.operations.executable:
                    # A partial update of a multiple resource is a POST with a payload format.
                    values = self._decode(request, path, session)
                    await session.tree.write(path, values, replace=False)
                    session.tree_changed("write", path)
                    return Message(code=Code.CHANGED)
            try:
                args = request.payload.decode("utf-8", errors="strict") if request.payload else ""
            except UnicodeDecodeError:
                raise BadRequest("execute arguments must be UTF-8 text") from None
            _check_execute_arguments(args)
            await session.tree.execute(path, args)
            return Message(code=Code.CHANGED)
        if len(path) == 2:
            values = self._decode(request, path, session)
            await session.tree.write(path, values, replace=False)
            session.tree_changed("write", path)
            return Message(code=Code.CHANGED)
        if len(path) == 1:
            values = self._decode(request, path, session)
            iid = await session.tree.create(path, values, instance_id=_instance_id_of_create(request, values))
            session.tree_changed("create", path.child(iid))
            msg = Message(code=Code.CREATED)
            msg.opt.location_path = (str(path[0]), str(iid))
            return msg
        raise MethodNotAllowed(f"POST on {path} is not an LwM2M operation")

    # ---- DELETE ---------------------------------------------------------------------------
    async def _delete(self, request: Message, path: Path, session: ServerSession) -> Message:
        if session.bootstrapping:
            await session.tree.delete(path, bootstrap=True)
            session.tree_changed("bootstrap", path)
            return Message(code=Code.DELETED)
        if len(path) != 2:
            raise MethodNotAllowed("delete needs an instance path")
        if path[0] == 0:
            raise Unauthorized("the Security object can only be changed by a bootstrap server")
        await session.tree.delete(path)
        session.tree_changed("delete", path)
        return Message(code=Code.DELETED)

    # ---- FETCH / iPATCH: composite operations (LwM2M 1.1) ----------------------------------------
    async def _fetch(self, request: Message, path: Path, session: ServerSession) -> Message:
        paths = self._decode_paths(request)
        values = await session.tree.read_composite(paths)
        fmt = session.composite_format(request.opt.accept)
        return content_response(encoder_for(fmt).encode(Path(), values, session.tree.models), fmt)

    async def _ipatch(self, request: Message, path: Path, session: ServerSession) -> Message:
        values = self._decode(request, Path(), session)
        by_instance: dict[Path, list[ResourceValue]] = {}
        for rv in values:
            if len(rv.path) < 3:
                raise BadRequest(f"write-composite value {rv.path} must name a resource")
            by_instance.setdefault(Path(*rv.path[:3]), []).append(rv)
        for target in by_instance:
            if not session.tree.exists(target):
                raise NotFound(f"{target} does not exist")
        for target, items in by_instance.items():
            await session.tree.write(target, items, replace=True)
            session.tree_changed("write", target)
        return Message(code=Code.CHANGED)

    # ---- payload helpers ---------------------------------------------------------------------
    @staticmethod
    def _decode(request: Message, path: Path, session: ServerSession) -> list[ResourceValue]:
        if request.opt.content_format is None:
            raise BadRequest("the request has a payload but no Content-Format")
        codec = decoder_for(int(request.opt.content_format))
        values = codec.decode(request.payload, path, session.tree.models)
        for rv in values:
            if not rv.path.startswith(path):
                raise BadRequest(f"payload names {rv.path}, outside the request path {path}")
        return values

    @staticmethod
    def _decode_paths(request: Message) -> list[Path]:
        from ..core.codecs import senml

        cf = request.opt.content_format
        if cf is None or int(cf) not in (ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR):
            raise UnsupportedContentFormat("composite requests take SenML JSON or SenML CBOR")
        return senml.decode_paths(request.payload, int(cf))


def _continue(request: Message) -> Message:
    """2.31 Continue: the block is in, send the next (RFC 7959 §2.3)."""
    msg = Message(code=Code.CONTINUE)
    msg.opt.block1 = request.opt.block1
    return msg


def _require(session: ServerSession, path: Path) -> None:
    """4.04 before anything else when the target does not exist (not 4.00 for an untyped payload)."""
    if not session.tree.exists(path):
        raise NotFound(f"{path} does not exist")


def _instance_id_of_create(request: Message, values: list[ResourceValue]) -> int | None:
    """The instance id a Create names, or None when the agent must choose one.

    A TLV Create may carry bare resource TLVs with no object-instance wrapper (LwM2M 1.0 §5.4.6);
    the TLV decoder then files them under instance 0, which is not a choice the server made.
    """
    cf = request.opt.content_format
    if cf is not None and int(cf) in (ContentFormat.TLV, ContentFormat.LEGACY_TLV):
        from ..core.codecs import tlv

        tlv_ids = tlv.instance_ids(request.payload)
        if len(tlv_ids) > 1:
            raise BadRequest("create takes one instance at a time")
        return tlv_ids[0] if tlv_ids else None
    ids = {rv.path[1] for rv in values if len(rv.path) >= 2}
    if len(ids) > 1:
        raise BadRequest("create takes one instance at a time")
    return ids.pop() if ids else None


def _check_execute_arguments(args: str) -> None:
    """Execute arguments are ``0='abc',3`` (LwM2M 1.0 §5.4.5): digits, optionally ``='text'``."""
    if not args:
        return
    for part in _split_args(args):
        digit, sep, value = part.partition("=")
        if not (len(digit) == 1 and digit.isdigit()):
            raise BadRequest(f"bad execute argument {part!r}: expected a digit 0-9, optionally ='value'")
        if sep and not (len(value) >= 2 and value[0] == "'" and value[-1] == "'"):
            raise BadRequest(f"bad execute argument {part!r}: the value must be in single quotes")


def _split_args(args: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in args:
        if ch == "'":
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quoted:
        raise BadRequest("bad execute arguments: unbalanced quote")
    parts.append("".join(current))
    return parts


_Handler = Callable[[LwM2MSite, Message, Path, "ServerSession"], Awaitable[Message]]
_HANDLERS: dict[Code, _Handler] = {
    Code.GET: LwM2MSite._get,
    Code.PUT: LwM2MSite._put,
    Code.POST: LwM2MSite._post,
    Code.DELETE: LwM2MSite._delete,
    Code.FETCH: LwM2MSite._fetch,
    Code.iPATCH: LwM2MSite._ipatch,
}

__all__ = ["LwM2MSite"]
