"""Air for Sigfox's API routes: device list, registration, tags, termination, groups and downlinks.

Store failures (no such device, a broken rule) become 404 and 400 in ``errors.error_middleware``.
Uplinks do not come through HTTP: the simulated modem calls ``CloudStore.sigfox_uplink`` directly, which
records a Harvest entry (resource type ``SigfoxDevice``) and hands back the downlink queued here with
``POST /v1/sigfox_devices/{id}/data`` (exactly 16 hex characters, 202; a newer message replaces a
waiting one, as the API documents).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web

from agent.simulator.cloud.context import config_of, store_of
from agent.simulator.cloud.errors import bad_request, json_response
from agent.simulator.cloud.harvest import entries_page
from agent.simulator.cloud.params import (
    bool_param,
    choice_param,
    int_param,
    json_body,
    json_object,
    next_page_headers,
    string_field,
)
from agent.simulator.cloud.records import SigfoxDeviceRecord

_DOWNLINK_HEX = re.compile(r"[0-9A-Fa-f]{16}")


def iso_time(time_ms: int) -> str:
    """UNIX ms as the RFC 3339 date-time the Sigfox schema declares."""
    stamp = datetime.fromtimestamp(time_ms / 1000, tz=UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_device(record: SigfoxDeviceRecord, operator_id: str) -> dict[str, object]:
    rendered: dict[str, object] = {
        "device_id": record.device_id,
        "operatorId": operator_id,
        "status": record.status,
        "tags": dict(record.tags),
        "terminationEnabled": record.termination_enabled,
        "lastModifiedTime": iso_time(record.last_modified_time),
    }
    if record.group_id is not None:
        rendered["groupId"] = record.group_id
    if record.last_seen is not None:
        seen = record.last_seen
        rendered["lastSeen"] = {"time": iso_time(seen.time), "rssi": seen.rssi, "snr": seen.snr}
    return rendered


def _device_answer(request: web.Request, record: SigfoxDeviceRecord) -> web.Response:
    return json_response(render_device(record, config_of(request).operator_id))


def _device_id(request: web.Request) -> str:
    return request.match_info["device_id"]


async def list_devices(request: web.Request) -> web.Response:
    tag_name = request.query.get("tag_name")
    tag_value = request.query.get("tag_value")
    if tag_name is not None and tag_value is None:
        raise bad_request("query parameter tag_value is required when tag_name is given")
    mode = choice_param(request, "tag_value_match_mode", ("exact", "prefix"), "exact")
    records, next_key = store_of(request).list_sigfox_devices(
        limit=int_param(request, "limit", minimum=1),
        after=request.query.get("last_evaluated_key") or None,
        tag_name=tag_name,
        tag_value=tag_value,
        prefix_match=mode == "prefix",
    )
    operator_id = config_of(request).operator_id
    return json_response(
        [render_device(r, operator_id) for r in records], headers=next_page_headers(request, next_key)
    )


async def get_device(request: web.Request) -> web.Response:
    return _device_answer(request, store_of(request).get_sigfox_device(_device_id(request)))


async def get_device_data(request: web.Request) -> web.Response:
    return entries_page(request, "SigfoxDevice", _device_id(request))


async def send_data(request: web.Request) -> web.Response:
    device_id = _device_id(request)
    store = store_of(request)
    store.get_sigfox_device(device_id)  # 404 before complaining about the body
    data = string_field(await json_object(request), "data")
    if data is None or not _DOWNLINK_HEX.fullmatch(data):
        raise bad_request("data must be exactly 16 hexadecimal characters (8 bytes)")
    store.queue_sigfox_downlink(device_id, bytes.fromhex(data))
    return web.Response(status=202)


async def register(request: web.Request) -> web.Response:
    body = await json_object(request)
    secret = string_field(body, "registrationSecret", required=False)
    if not secret:
        raise bad_request("registrationSecret (the device's PAC) is required")
    tags = body.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise bad_request("tags must be an object of string values")
    return _device_answer(
        request, store_of(request).register_sigfox_device(_device_id(request), secret, tags)
    )


async def put_tags(request: web.Request) -> web.Response:
    body = await json_body(request)
    if not isinstance(body, list):
        raise bad_request("the request body must be an array of {tagName, tagValue}")
    tags: dict[str, str] = {}
    for item in body:
        if not isinstance(item, dict):
            raise bad_request("each tag must be an object with tagName and tagValue")
        name, value = string_field(item, "tagName"), string_field(item, "tagValue")
        assert name is not None and value is not None
        tags[name] = value
    return _device_answer(request, store_of(request).put_sigfox_tags(_device_id(request), tags))


async def delete_tag(request: web.Request) -> web.Response:
    store_of(request).delete_sigfox_tag(_device_id(request), request.match_info["tag_name"])
    return web.Response(status=204)


async def enable_termination(request: web.Request) -> web.Response:
    return _device_answer(request, store_of(request).set_sigfox_termination(_device_id(request), True))


async def disable_termination(request: web.Request) -> web.Response:
    return _device_answer(request, store_of(request).set_sigfox_termination(_device_id(request), False))


async def terminate(request: web.Request) -> web.Response:
    delete_now = bool_param(request, "delete_immediately")
    return _device_answer(request, store_of(request).terminate_sigfox_device(_device_id(request), delete_now))


async def set_group(request: web.Request) -> web.Response:
    group_id = string_field(await json_object(request), "groupId")
    return _device_answer(request, store_of(request).set_sigfox_group(_device_id(request), group_id))


async def unset_group(request: web.Request) -> web.Response:
    return _device_answer(request, store_of(request).set_sigfox_group(_device_id(request), None))


def routes() -> list[web.RouteDef]:
    device = "/v1/sigfox_devices/{device_id}"
    return [
        web.get("/v1/sigfox_devices", list_devices, name="listSigfoxDevices"),
        web.get(device, get_device, name="getSigfoxDevice"),
        web.get(device + "/data", get_device_data, name="getDataFromSigfoxDevice"),
        web.post(device + "/data", send_data, name="sendDataToSigfoxDevice"),
        web.post(device + "/register", register, name="registerSigfoxDevice"),
        web.put(device + "/tags", put_tags, name="putSigfoxDeviceTags"),
        web.delete(device + "/tags/{tag_name}", delete_tag, name="deleteSigfoxDeviceTag"),
        web.post(device + "/enable_termination", enable_termination, name="enableTerminationOnSigfoxDevice"),
        web.post(
            device + "/disable_termination", disable_termination, name="disableTerminationOnSigfoxDevice"
        ),
        web.post(device + "/terminate", terminate, name="terminateSigfoxDevice"),
        web.post(device + "/set_group", set_group, name="setSigfoxDeviceGroup"),
        web.post(device + "/unset_group", unset_group, name="unsetSigfoxDeviceGroup"),
    ]
