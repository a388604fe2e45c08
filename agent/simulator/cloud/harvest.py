"""Harvest Data's API routes: reading and deleting entries, listing data sources, and publishing from a
SIM-less Inventory device with its device secret.

``POST /v1/devices/{id}/publish`` lives on the API host but authenticates with ``device_secret`` instead of
an API key, and is rate limited per device (429 with Retry-After, limit in ``CloudConfig``). The publish
operation is documented by Soracom's Harvest guide but absent from the OpenAPI spec.
"""

from __future__ import annotations

import math
import secrets

from aiohttp import web

from agent.simulator.cloud.config import RESOURCE_TYPES, CloudConfig, ResourceRef
from agent.simulator.cloud.context import config_of, store_of
from agent.simulator.cloud.errors import ApiError, bad_request, json_response, not_found, too_many_requests
from agent.simulator.cloud.ingest import DEFAULT_CONTENT_TYPE, harvest_data, http_answer, timestamp_header
from agent.simulator.cloud.params import choice_param, int_param, next_page_headers
from agent.simulator.cloud.ratelimit import SlidingWindowLimiter
from agent.simulator.cloud.records import DataEntry, DataResource

PUBLIC_ROUTES = frozenset({"publish"})
PUBLISH_LIMITER = web.AppKey("publish_limiter", SlidingWindowLimiter)


def render_entry(entry: DataEntry) -> dict[str, object]:
    rendered: dict[str, object] = {
        "resourceType": entry.resource_type,
        "resourceId": entry.resource_id,
        "time": entry.time,
        "contentType": entry.content_type,
        "content": entry.content,
    }
    if entry.category is not None:
        rendered["category"] = entry.category
    return rendered


def render_resource(resource: DataResource) -> dict[str, object]:
    return {
        "resourceType": resource.resource_type,
        "resourceId": resource.resource_id,
        "lastModifiedTime": resource.last_modified_time,
        "attributeNames": list(resource.attribute_names),
    }


def _resource_type(request: web.Request) -> str:
    resource_type = request.match_info["resource_type"]
    if resource_type not in RESOURCE_TYPES:
        raise bad_request(f"resource_type must be one of {', '.join(RESOURCE_TYPES)}, not {resource_type!r}")
    return resource_type


def _time(request: web.Request) -> int:
    raw = request.match_info["time"]
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"time must be UNIX time in milliseconds, not {raw!r}") from None


def entries_page(request: web.Request, resource_type: str, resource_id: str) -> web.Response:
    """A page of entries as every ``.../data`` read operation answers it."""
    ascending = choice_param(request, "sort", ("desc", "asc"), "desc") == "asc"
    limit = int_param(request, "limit", 10, minimum=1, maximum=1000)
    after_raw = request.query.get("last_evaluated_key")
    after: int | None = None
    if after_raw:
        try:
            after = int(after_raw)
        except ValueError:
            raise bad_request(
                f"last_evaluated_key must be a time from x-soracom-next-key, not {after_raw!r}"
            ) from None
    entries, next_key = store_of(request).data_entries(
        resource_type,
        resource_id,
        time_from=int_param(request, "from"),
        time_to=int_param(request, "to"),
        ascending=ascending,
        limit=limit or 10,
        after=after,
    )
    return json_response([render_entry(e) for e in entries], headers=next_page_headers(request, next_key))


async def get_data_entries(request: web.Request) -> web.Response:
    return entries_page(request, _resource_type(request), request.match_info["resource_id"])


async def get_data_entry(request: web.Request) -> web.Response:
    resource_type, resource_id, time_ms = (
        _resource_type(request),
        request.match_info["resource_id"],
        _time(request),
    )
    entry = store_of(request).get_data_entry(resource_type, resource_id, time_ms)
    if entry is None:
        raise not_found(f"no data entry of {resource_type} {resource_id} at {time_ms}")
    return json_response(render_entry(entry))


async def delete_data_entry(request: web.Request) -> web.Response:
    resource_type, resource_id, time_ms = (
        _resource_type(request),
        request.match_info["resource_id"],
        _time(request),
    )
    if not store_of(request).delete_data_entry(resource_type, resource_id, time_ms):
        raise not_found(f"no data entry of {resource_type} {resource_id} at {time_ms}")
    return web.Response(status=204)


async def list_data_resources(request: web.Request) -> web.Response:
    resource_type = request.query.get("resource_type")
    if resource_type is not None and resource_type not in RESOURCE_TYPES:
        raise bad_request(f"resource_type must be one of {', '.join(RESOURCE_TYPES)}, not {resource_type!r}")
    resources, next_key = store_of(request).data_resources(
        resource_type,
        limit=int_param(request, "limit", minimum=1),
        after=request.query.get("last_evaluated_key") or None,
    )
    return json_response(
        [render_resource(r) for r in resources], headers=next_page_headers(request, next_key)
    )


async def get_device_data(request: web.Request) -> web.Response:
    return entries_page(request, "Device", request.match_info["device_id"])


async def publish(request: web.Request) -> web.Response:
    """A SIM-less Inventory device sends one entry, authenticated by its device secret."""
    config, store = config_of(request), store_of(request)
    device_id = request.match_info["device_id"]
    given = request.query.get("device_secret", "")
    expected = store.device_secret(device_id)
    # The real service documents only 201 and 400 here, so a wrong secret is a 400 too.
    if not given or expected is None or not secrets.compare_digest(given.encode(), expected.encode()):
        raise ApiError(400, "COM0001", f"unknown device {device_id} or wrong device_secret")
    wait = request.app[PUBLISH_LIMITER].acquire(device_id)
    if wait is not None:
        raise too_many_requests(
            f"too many requests from device {device_id}; retry later", max(1, math.ceil(wait))
        )
    payload = await request.read()
    content_type = request.headers.get("Content-Type", DEFAULT_CONTENT_TYPE)
    source = ResourceRef("Device", device_id)
    return http_answer(
        harvest_data(config, store, source, payload, content_type, timestamp_header(request.headers))
    )


def routes() -> list[web.RouteDef]:
    # metadata/resources before {resource_type}/{resource_id}: aiohttp matches in order.
    return [
        web.get("/v1/data/metadata/resources", list_data_resources, name="listDataResourceMetadata"),
        web.get("/v1/data/resources", list_data_resources, name="listDataSourceResources"),
        web.get("/v1/data/{resource_type}/{resource_id}", get_data_entries, name="getDataEntries"),
        web.get("/v1/data/{resource_type}/{resource_id}/{time}", get_data_entry, name="getDataEntry"),
        web.delete(
            "/v1/data/{resource_type}/{resource_id}/{time}", delete_data_entry, name="deleteDataEntry"
        ),
        web.get("/v1/devices/{device_id}/data", get_device_data, name="getDataFromDevice"),
        web.post("/v1/devices/{device_id}/publish", publish, name="publish"),
    ]


def setup(app: web.Application, config: CloudConfig) -> None:
    """Give the app its publish rate limiter (state that lives as long as the app)."""
    app[PUBLISH_LIMITER] = SlidingWindowLimiter(config.publish_rate_limit)
