"""Request parsing the Soracom API's operations share: query parameters, JSON bodies, paging headers.

List operations take ``limit`` and ``last_evaluated_key`` and answer the key of the next page in the
``x-soracom-next-key`` header (what soracom-cli follows) and, as the API descriptions say, a ``link`` header
with the URL of the next page. Parsing lives here so every route rejects a bad value the same way: 400 with
a message naming the parameter or field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from agent.simulator.cloud.errors import bad_request

NEXT_KEY_HEADER = "x-soracom-next-key"


def query_int(
    query: Mapping[str, str],
    name: str,
    default: int | None = None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """Query parameter ``name`` as an integer within the bounds; 400 naming it otherwise."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"query parameter {name} must be an integer, not {raw!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "" if minimum is None else f" >= {minimum}"
        high = "" if maximum is None else f" <= {maximum}"
        joined = " and".join(part for part in (low, high) if part)
        raise bad_request(f"query parameter {name} must be{joined}, not {value}")
    return value


def query_bool(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    """Query parameter ``name`` as true/1 or false/0; 400 naming it otherwise."""
    raw = query.get(name)
    if raw is None:
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise bad_request(f"query parameter {name} must be true or false, not {raw!r}")


def parse_json_body(raw: bytes) -> Any:
    """A request body as JSON; 400 naming the problem if it is missing or not JSON."""
    if not raw.strip():
        raise bad_request("a JSON request body is required")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise bad_request("the request body is JSON nested too deeply") from None


def as_json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def int_param(
    request: web.Request,
    name: str,
    default: int | None = None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    return query_int(request.query, name, default, minimum=minimum, maximum=maximum)


def choice_param(request: web.Request, name: str, choices: tuple[str, ...], default: str) -> str:
    value = request.query.get(name, default)
    if value not in choices:
        raise bad_request(f"query parameter {name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def bool_param(request: web.Request, name: str, default: bool = False) -> bool:
    return query_bool(request.query, name, default)


def next_page_headers(request: web.Request, next_key: str | int | None) -> dict[str, str]:
    """The headers that point a client at the next page; none on the last page."""
    if next_key is None:
        return {}
    key = str(next_key)
    next_url = request.url.update_query({"last_evaluated_key": key})
    return {NEXT_KEY_HEADER: key, "link": f'<{next_url}>; rel="next"'}


async def json_body(request: web.Request) -> Any:
    """The request's JSON body; 400 naming the problem if it is missing or not JSON."""
    return parse_json_body(await request.read())


async def json_object(request: web.Request) -> dict[str, Any]:
    return as_json_object(await json_body(request))


def string_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(f"field {name} is required")
        return None
    if not isinstance(value, str):
        raise bad_request(f"field {name} must be a string")
    return value
