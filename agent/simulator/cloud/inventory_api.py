"""API operations as plain async functions, callable over HTTP and from a Batch job alike.

A Batch task names an API call by path and method (``GET /v1/devices/d-…/3/0/0``); the service runs it
with the caller's rights and keeps its status code and body. So the Inventory operations are written
once, against an ``ApiCall`` (path parameters, query, body) returning an ``ApiOutcome`` (status, JSON
body, next-page key), and both the aiohttp route and the Batch runner call that same function. Errors
are raised as ``ApiError`` (or the store's ``UnknownItem``/``RuleViolation``) as in every route module.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import MultiDict

from agent.simulator.cloud.errors import ApiError, json_response
from agent.simulator.cloud.params import (
    as_json_object,
    next_page_headers,
    parse_json_body,
    query_bool,
    query_int,
)
from agent.simulator.cloud.records import RuleViolation, UnknownItem


@dataclass(frozen=True)
class ApiCall:
    """One call of an operation: path parameters, query parameters and the raw body."""

    params: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str = "application/json"

    def param(self, name: str) -> str:
        return self.params[name]

    def json(self) -> Any:
        """The JSON body; 400 naming the problem if it is missing or not JSON."""
        return parse_json_body(self.body)

    def json_object(self, *, required: bool = True) -> dict[str, Any]:
        if not required and not self.body.strip():
            return {}
        return as_json_object(self.json())

    def bool_query(self, name: str, default: bool = False) -> bool:
        return query_bool(self.query, name, default)

    def int_query(self, name: str, default: int | None = None, *, minimum: int | None = None) -> int | None:
        return query_int(self.query, name, default, minimum=minimum)


@dataclass(frozen=True)
class ApiOutcome:
    """An operation's answer: status, JSON body (None for none) and the key of the next page, if any."""

    status: int
    body: Any = None
    next_key: str | None = None


Handler = Callable[[ApiCall], Awaitable[ApiOutcome]]

_TEMPLATE_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class ApiOperation:
    """One API operation: its operationId, method, path template (with ``/v1``) and handler.

    ``batchable`` marks the operations a Batch job may call.
    """

    name: str
    method: str
    path: str
    handler: Handler
    batchable: bool = False

    def route(self) -> web.RouteDef:
        async def serve(request: web.Request) -> web.Response:
            call = ApiCall(
                params=dict(request.match_info),
                query=MultiDict(request.query),
                body=await request.read(),
                content_type=request.content_type,
            )
            outcome = await self.handler(call)
            headers = next_page_headers(request, outcome.next_key)
            if outcome.body is None:
                return web.Response(status=outcome.status, headers=headers)
            return json_response(outcome.body, status=outcome.status, headers=headers)

        return web.route(self.method, self.path, serve, name=self.name)

    @property
    def literal_segments(self) -> int:
        return sum(1 for part in self.path.split("/") if part and not _TEMPLATE_PARAM.fullmatch(part))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters if ``method`` and ``path`` call this operation, else None."""
        if method.upper() != self.method:
            return None
        pattern = "".join(
            f"(?P<{part[1:-1]}>[^/]+)" if _TEMPLATE_PARAM.fullmatch(part) else re.escape(part)
            for part in re.split(r"(\{\w+\})", self.path)
        )
        found = re.fullmatch(pattern, path)
        return None if found is None else found.groupdict()


async def call_outcome(operation: ApiOperation, call: ApiCall) -> ApiOutcome:
    """Run an operation as the HTTP app would answer it: errors become their status and error body."""
    try:
        return await operation.handler(call)
    except ApiError as exc:
        return ApiOutcome(exc.status, {"code": exc.code, "message": exc.message})
    except UnknownItem as exc:
        return ApiOutcome(404, {"code": "COM0002", "message": str(exc)})
    except RuleViolation as exc:
        return ApiOutcome(400, {"code": "COM0001", "message": str(exc)})
