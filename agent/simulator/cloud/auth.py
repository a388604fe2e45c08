"""Soracom API authentication: ``POST /v1/auth`` with an AuthKey pair, and the key/token check.

Every other ``/v1`` operation needs the ``X-Soracom-API-Key`` and ``X-Soracom-Token`` that ``/auth``
issued, except the few that authenticate otherwise (a device publishing with its secret, a download
link) which routes mark public by name. Only the AuthKey form of ``/auth`` is accepted: the emulator has
no root account or SAM users, so the email and SAM forms fail as wrong credentials do.
"""

from __future__ import annotations

import secrets

from aiohttp import web
from aiohttp.typedefs import Middleware

from agent.simulator.cloud.context import config_of, store_of
from agent.simulator.cloud.errors import (
    Handler,
    bad_request,
    invalid_credentials,
    invalid_token,
    json_response,
    token_required,
)
from agent.simulator.cloud.params import json_object

API_KEY_HEADER = "X-Soracom-API-Key"
TOKEN_HEADER = "X-Soracom-Token"
MAX_TOKEN_TIMEOUT_SECONDS = 172800

PUBLIC_ROUTES = frozenset({"auth"})
"""Names of this module's routes that need no API key and token."""


async def authenticate(request: web.Request) -> web.Response:
    config = config_of(request)
    body = await json_object(request)
    key_id, key = body.get("authKeyId"), body.get("authKey")
    if not isinstance(key_id, str) or not isinstance(key, str):
        raise invalid_credentials()
    matches = secrets.compare_digest(key_id.encode(), config.auth_key_id.encode()) & secrets.compare_digest(
        key.encode(), config.auth_key.encode()
    )
    if not matches:
        raise invalid_credentials()
    timeout = body.get("tokenTimeoutSeconds", config.token_timeout_seconds)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int)
        or not 1 <= timeout <= MAX_TOKEN_TIMEOUT_SECONDS
    ):
        raise bad_request(f"tokenTimeoutSeconds must be an integer from 1 to {MAX_TOKEN_TIMEOUT_SECONDS}")
    issued = store_of(request).issue_token(config.operator_id, timeout)
    return json_response({"apiKey": issued.api_key, "operatorId": issued.operator_id, "token": issued.token})


async def logout(request: web.Request) -> web.Response:
    store_of(request).revoke_token(request.headers[API_KEY_HEADER])
    return web.Response(status=204)


def auth_middleware(public_routes: frozenset[str]) -> Middleware:
    """Refuse ``/v1`` calls without a live key and token, except to the routes named in
    ``public_routes``; unknown routes too, as an API gateway does.
    """

    @web.middleware
    async def check_credentials(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/") and request.match_info.route.name not in public_routes:
            api_key = request.headers.get(API_KEY_HEADER)
            token = request.headers.get(TOKEN_HEADER)
            if not api_key or not token:
                raise token_required()
            if store_of(request).check_token(api_key, token) is None:
                raise invalid_token()
        return await handler(request)

    return check_credentials


def routes() -> list[web.RouteDef]:
    return [
        web.post("/v1/auth", authenticate, name="auth"),
        web.post("/v1/auth/logout", logout, name="logout"),
    ]
