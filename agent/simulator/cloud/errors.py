"""The Soracom API's error answers, and the middleware that makes every failure one of them.

The real API answers errors as ``{"code": "ABC1234", "message": "..."}`` (Soracom's API usage guide).
Codes seen from the real service in public clients: ``AUM0001`` "Token is required in the request header",
``AUM0002`` "Invalid username/password supplied.", ``COM0003`` "Internal server error". The other codes
below are the emulator's choice, in the same style: clients should branch on the HTTP status, not on them.

| status | code | when |
|---|---|---|
| 400 | COM0001 | bad JSON, a missing or malformed field or parameter, a rule of the service broken |
| 401 | AUM0001 | X-Soracom-API-Key or X-Soracom-Token missing |
| 401 | AUM0002 | POST /auth with a wrong or incomplete AuthKey pair |
| 401 | AUM0003 | API key and token unknown, revoked or expired |
| 404 | COM0002 | no such route, or no such item |
| 405 | COM0004 | the route exists but not for this method |
| 413 | COM0006 | the request body is larger than the service accepts |
| 429 | COM0005 | rate limited (with Retry-After) |
| 500 | COM0003 | a bug in the emulator; logged with its traceback |
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from agent.simulator.cloud.records import RuleViolation, UnknownItem

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An answer in the API's error shape; raise it from any handler."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return error_response(self.status, self.code, self.message, self.headers)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "COM0001", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "COM0002", message)


def too_many_requests(message: str, retry_after_seconds: int) -> ApiError:
    return ApiError(429, "COM0005", message, {"Retry-After": str(retry_after_seconds)})


def payload_too_large(message: str) -> ApiError:
    return ApiError(413, "COM0006", message)


def token_required() -> ApiError:
    return ApiError(401, "AUM0001", "Token is required in the request header")


def invalid_credentials() -> ApiError:
    return ApiError(401, "AUM0002", "Invalid AuthKeyId/AuthKey supplied.")


def invalid_token() -> ApiError:
    return ApiError(401, "AUM0003", "Invalid API key or token, or the token has expired.")


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data, separators=(",", ":")).encode(),
        content_type="application/json",
        headers=dict(headers or {}),
    )


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return json_response({"code": code, "message": message}, status=status, headers=headers)


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    """aiohttp's own refusals (routing, body size) turned into the API's shape."""
    if exc.status == 404:
        return error_response(404, "COM0002", f"No such API: {request.method} {request.path}")
    if exc.status == 405:
        allow = exc.headers.get("Allow", "")
        return error_response(
            405, "COM0004", f"{request.method} is not allowed on {request.path}", {"Allow": allow}
        )
    if exc.status == 413:
        return error_response(413, "COM0006", "Request body too large")
    return error_response(exc.status, "COM0001", exc.reason or "Bad request")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as the error shape; nothing a client sends can take the emulator down.

    The store's ``UnknownItem`` and ``RuleViolation`` are answered 404 and 400 here, so handlers let them
    pass instead of each translating them.
    """
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except UnknownItem as exc:
        return error_response(404, "COM0002", str(exc))
    except RuleViolation as exc:
        return error_response(400, "COM0001", str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _from_http_exception(request, exc)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return error_response(500, "COM0003", "Internal server error")
