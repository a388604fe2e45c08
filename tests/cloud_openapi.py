"""Checks every answer of the cloud emulator against Soracom's OpenAPI spec, with openapi-core.

Tests talk to the emulator through ``CheckedClient``: each response is validated against the operation of
``tests/data/soracom-api/soracom-api.subset.yaml`` it answers (status declared, body and headers matching
the schema) before the test sees it, so no test can forget to check a body.

Fix-ups made to the spec in memory, each for a gap or a defect:

1. The spec declares no error body, but the real API answers every error as ``{"code", "message"}``
   (Soracom's API usage guide). An ``Error`` schema is added, given to every 4xx/5xx response declared
   without content, and to the error statuses any operation may answer (most operations do not declare
   the 401 of a missing token or the 400 of a bad parameter). HEAD answers keep no error body.
2. ``POST /devices/{device_id}/publish`` (Soracom's Harvest guide: 201, 400, 429) is absent; it is added.
3. OpenAPI path templates do not match ``/``, yet Harvest Files' ``{path}`` spans segments: the checker
   percent-encodes the slashes inside that parameter before matching (the request sent is unchanged), and
   names the root directory by the parameter's default ``/``.

The device-side hosts (``harvest.soracom.io``, ``uni.soracom.io``, ``harvest-files.soracom.io``) and the
emulator's stand-in for presigned download URLs have no spec; ``DEVICE_SIDE_SPECS`` describes them from
Soracom's developer documentation in the same form, so their answers are checked the same way. An answer
of a route no spec knows (an unknown path or method) must be an error in the ``Error`` shape.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote

import aiohttp
import yaml
from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator
from support import SORACOM_API_SPEC

from agent.simulator.cloud import CloudConfig, CloudStore, RunningCloud, start_cloud

SPEC_FILE = SORACOM_API_SPEC
API_HOST = "https://api.soracom.io"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "pattern": "^[A-Z]{3}[0-9]{4}$"},
        "message": {"type": "string"},
    },
}
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_HTTP_METHODS = ("get", "put", "post", "delete", "head", "patch", "options")
# Errors any operation may answer. Listed one by one rather than as `default`, which would also accept an
# undeclared success status.
_ERROR_STATUSES = ("400", "401", "403", "404", "405", "413", "429", "500")


def fix_up(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with the fix-ups of the module docstring applied."""
    spec = copy.deepcopy(spec)
    spec.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    spec["paths"]["/devices/{device_id}/publish"] = {
        "post": {
            "operationId": "publishDataFromDevice",
            "parameters": [
                {"name": "device_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "device_secret", "in": "query", "required": True, "schema": {"type": "string"}},
            ],
            "requestBody": {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {
                "201": {"description": "Data was stored in Harvest Data."},
                "400": {"description": "Rejected (Harvest disabled, unknown device or wrong secret)."},
                "429": {
                    "description": "Rate limited.",
                    "headers": {"Retry-After": {"required": True, "schema": {"type": "integer"}}},
                },
            },
        }
    }
    for operations in spec["paths"].values():
        for method in _HTTP_METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            responses = operation["responses"]
            # A HEAD answer never has a body, so its errors are declared without one.
            error: dict[str, Any] = {} if method == "head" else {"content": _ERROR_CONTENT}
            for status, response in responses.items():
                if status[0] in "45" and "content" not in response:
                    response.update(error)
            for status in _ERROR_STATUSES:
                responses.setdefault(status, {"description": "An error.", **error})
    return spec


def _device_side_spec(server: str, paths: dict[str, Any]) -> dict[str, Any]:
    return fix_up(
        {
            "openapi": "3.0.0",
            "info": {"title": f"device side of {server}", "version": "1"},
            "servers": [{"url": server}],
            "paths": paths,
            "components": {
                "schemas": {
                    "UnifiedResponse": {
                        "type": "object",
                        "required": ["result", "detail"],
                        "properties": {
                            "result": {"type": "string", "enum": ["ok", "ng"]},
                            "detail": {
                                "type": "object",
                                "additionalProperties": {
                                    "type": "object",
                                    "required": ["statusCode", "body"],
                                    "properties": {
                                        "statusCode": {"type": "integer"},
                                        "body": {"type": "string"},
                                    },
                                },
                            },
                        },
                    }
                }
            },
        }
    )


_PATH_PARAM = [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}]
_FILE_BODY = {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
_UPLOAD = {
    "parameters": _PATH_PARAM,
    "requestBody": _FILE_BODY,
    "responses": {"200": {"description": "replaced"}, "201": {"description": "created"}},
}

DEVICE_SIDE_SPECS: dict[str, dict[str, Any]] = {
    # Soracom Harvest Data guide: "201 - received", "400 - rejected".
    "harvest": _device_side_spec(
        "http://harvest.soracom.io",
        {"/": {"post": {"requestBody": _FILE_BODY, "responses": {"201": {"description": "stored"}}}}},
    ),
    # Unified Endpoint response format: Harvest's own answer when it is the only destination ("auto"),
    # else {"result", "detail"} with 200 or 207.
    "unified": _device_side_spec(
        "http://uni.soracom.io",
        {
            "/": {
                "post": {
                    "requestBody": _FILE_BODY,
                    "responses": {
                        "201": {"description": "stored by Harvest, the only destination"},
                        "200": {
                            "description": "every destination succeeded",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/UnifiedResponse"}
                                }
                            },
                        },
                        "207": {
                            "description": "a destination failed",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/UnifiedResponse"}
                                }
                            },
                        },
                    },
                }
            }
        },
    ),
    # Harvest Files guide: PUT or POST uploads, GET downloads.
    "files": _device_side_spec(
        "http://harvest-files.soracom.io",
        {
            "/{path}": {
                "put": _UPLOAD,
                "post": _UPLOAD,
                "get": {
                    "parameters": _PATH_PARAM,
                    "responses": {"200": {"description": "the file", **_FILE_BODY}},
                },
            }
        },
    ),
    # The emulator's stand-in for the presigned storage URL getFile redirects to.
    "download": _device_side_spec(
        API_HOST,
        {
            "/_download/{token}": {
                "get": {
                    "parameters": [
                        {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {"200": {"description": "the file", **_FILE_BODY}},
                }
            }
        },
    ),
}


@cache
def soracom_spec() -> OpenAPI:
    with SPEC_FILE.open() as stream:
        return OpenAPI.from_dict(fix_up(yaml.safe_load(stream)))


@cache
def device_side_spec(host: str) -> OpenAPI:
    return OpenAPI.from_dict(DEVICE_SIDE_SPECS[host])


def spec_path(host: str, raw_path: str) -> str:
    """The request path as the spec's templates can match it (fix-up 3)."""
    if host == "api":
        match = re.fullmatch(r"(/v1/files/[^/]+/)(.*)", raw_path)
        if match:
            prefix, rest = match.groups()
            rest = rest.lstrip("/")
            if rest == "":
                return prefix + quote("/", safe="") + "/"
            directory = rest.endswith("/")
            return prefix + quote(rest.rstrip("/"), safe="%") + ("/" if directory else "")
    if host == "files":
        return "/" + quote(raw_path.lstrip("/"), safe="%")
    return raw_path


def _host_url(host: str) -> str:
    servers = {"api": API_HOST, "download": API_HOST}
    return servers.get(host) or DEVICE_SIDE_SPECS[host]["servers"][0]["url"]


def check_error_body(body: bytes) -> dict[str, str]:
    """``body`` must be the API's error shape; returns it."""
    parsed = json.loads(body)
    OAS30Validator(ERROR_SCHEMA).validate(parsed)
    return dict(parsed)


def validate_answer(
    host: str,
    method: str,
    raw_path: str,
    query: Mapping[str, str],
    status: int,
    headers: Mapping[str, str],
    body: bytes,
) -> None:
    """Raise unless the answer is what the spec's operation for this request allows."""
    spec = soracom_spec() if host == "api" else device_side_spec(host)
    request = MockRequest(_host_url(host), method.lower(), spec_path(host, raw_path), args=dict(query))
    response = MockResponse(
        body,
        status_code=status,
        headers=dict(headers),
        content_type=headers.get("Content-Type", "application/octet-stream").split(";")[0],
    )
    try:
        spec.validate_response(request, response)
    except (PathNotFound, OperationNotFound):
        # No operation for this request: only an error answer is right, and it must have the error shape.
        if status < 400:
            raise
        check_error_body(body)


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str:
        return check_error_body(self.body)["code"]


@dataclass
class CheckedClient:
    """Requests to one emulated host; every answer is validated before it is returned."""

    session: aiohttp.ClientSession
    base_url: str
    host: str = "api"
    headers: dict[str, str] = field(default_factory=dict)

    async def request(self, method: str, path: str, **kwargs: Any) -> Answer:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        kwargs.setdefault("allow_redirects", False)
        async with self.session.request(method, self.base_url + path, headers=headers, **kwargs) as response:
            body = await response.read()
            url = response.url
            answer = Answer(response.status, response.headers, body)
        host = "download" if url.path.startswith("/_download/") else self.host
        validate_answer(host, method, url.raw_path, url.query, answer.status, answer.headers, body)
        return answer

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("PUT", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("DELETE", path, **kwargs)

    async def head(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("HEAD", path, **kwargs)

    async def follow(self, answer: Answer) -> Answer:
        """Fetch the Location of a redirect (a download link needs no API key, like a presigned URL)."""
        location = answer.headers["Location"]
        origin = self.base_url
        assert location.startswith(origin), location
        return await self.request("GET", location[len(origin) :], headers={})


@dataclass
class Cloud:
    """A running emulator and clients for each of its hosts; ``api`` is authenticated."""

    config: CloudConfig
    store: CloudStore
    running: RunningCloud
    session: aiohttp.ClientSession
    anonymous: CheckedClient
    api: CheckedClient
    harvest: CheckedClient
    unified: CheckedClient
    files: CheckedClient


async def login(client: CheckedClient, config: CloudConfig) -> dict[str, str]:
    answer = await client.post("/v1/auth", json={"authKeyId": config.auth_key_id, "authKey": config.auth_key})
    assert answer.status == 200, answer.body
    tokens = answer.json()
    return {"X-Soracom-API-Key": tokens["apiKey"], "X-Soracom-Token": tokens["token"]}


@asynccontextmanager
async def running_cloud(
    config: CloudConfig | None = None, store: CloudStore | None = None
) -> AsyncIterator[Cloud]:
    """The emulator on loopback ephemeral ports, with a validating client per host."""
    config = config or CloudConfig()
    store = store or CloudStore()
    running = await start_cloud(config, store)
    try:
        async with aiohttp.ClientSession() as session:
            anonymous = CheckedClient(session, running.api_url)
            credentials = await login(anonymous, config)
            yield Cloud(
                config=config,
                store=store,
                running=running,
                session=session,
                anonymous=anonymous,
                api=CheckedClient(session, running.api_url, headers=credentials),
                harvest=CheckedClient(session, running.harvest_url, "harvest"),
                unified=CheckedClient(session, running.unified_url, "unified"),
                files=CheckedClient(session, running.files_url, "files"),
            )
    finally:
        await running.close()
