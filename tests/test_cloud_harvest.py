"""Harvest Data in the emulator: device-side ingest (HTTP, TCP, UDP, Unified Endpoint, publish) and the
read API, over real sockets on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator

import pytest
from cloud_openapi import Cloud, running_cloud

from agent.simulator.cloud import CloudConfig, RateLimit, ResourceRef

DEFAULT_IMSI = "001010000000001"
SUBSCRIBER_DATA = f"/v1/data/Subscriber/{DEFAULT_IMSI}"


@pytest.fixture
async def cloud() -> AsyncIterator[Cloud]:
    async with running_cloud() as running:
        yield running


def seed(cloud: Cloud, count: int, resource_id: str = DEFAULT_IMSI, start: int = 1_000) -> list[int]:
    times = [start + 10 * i for i in range(count)]
    for i, time_ms in enumerate(times):
        cloud.store.add_data_entry(
            "Subscriber", resource_id, time_ms, "application/json", json.dumps({"n": i})
        )
    return times


# ---- HTTP ingest --------------------------------------------------------------------------------------


async def test_http_post_is_stored_with_its_content_type_and_read_back(cloud: Cloud) -> None:
    posted = await cloud.harvest.post(
        "/", data=b'{"temperature":20}', headers={"Content-Type": "application/json"}
    )
    assert posted.status == 201 and posted.body == b""
    entries = (await cloud.api.get(SUBSCRIBER_DATA)).json()
    assert len(entries) == 1
    assert entries[0]["contentType"] == "application/json"
    assert json.loads(entries[0]["content"]) == {"temperature": 20}
    assert entries[0]["resourceType"] == "Subscriber" and entries[0]["resourceId"] == DEFAULT_IMSI


async def test_http_post_keeps_the_timestamp_header(cloud: Cloud) -> None:
    headers = {"Content-Type": "text/plain", "X-Soracom-Timestamp": "1545652714887"}
    assert (await cloud.harvest.post("/", data=b"hello", headers=headers)).status == 201
    entry = (await cloud.api.get(f"{SUBSCRIBER_DATA}/1545652714887")).json()
    assert entry["content"] == "hello" and entry["time"] == 1545652714887


async def test_http_post_with_a_bad_timestamp_is_400(cloud: Cloud) -> None:
    answer = await cloud.harvest.post("/", data=b"x", headers={"X-Soracom-Timestamp": "yesterday"})
    assert answer.status == 400
    assert "X-Soracom-Timestamp" in answer.json()["message"]


async def test_binary_payloads_are_stored_base64(cloud: Cloud) -> None:
    payload = bytes(range(256))
    await cloud.harvest.post("/", data=payload, headers={"Content-Type": "application/octet-stream"})
    (entry,) = (await cloud.api.get(SUBSCRIBER_DATA)).json()
    assert base64.b64decode(entry["content"]) == payload


async def test_text_that_is_not_utf8_is_400(cloud: Cloud) -> None:
    answer = await cloud.harvest.post("/", data=b"\xff\xfe", headers={"Content-Type": "text/plain"})
    assert answer.status == 400
    assert (await cloud.api.get(SUBSCRIBER_DATA)).json() == []


async def test_identity_headers_name_the_resource(cloud: Cloud) -> None:
    await cloud.harvest.post(
        "/", data=b"a", headers={"Content-Type": "text/plain", "X-Soracom-Imsi": "440101"}
    )
    await cloud.harvest.post(
        "/", data=b"b", headers={"Content-Type": "text/plain", "X-Soracom-Sim-Id": "8981"}
    )
    assert [e["content"] for e in (await cloud.api.get("/v1/data/Subscriber/440101")).json()] == ["a"]
    assert [e["content"] for e in (await cloud.api.get("/v1/data/Sim/8981")).json()] == ["b"]
    assert (await cloud.api.get(SUBSCRIBER_DATA)).json() == []


async def test_source_address_map_names_the_resource() -> None:
    config = CloudConfig(source_resources={"127.0.0.1": ResourceRef("Subscriber", "440109999")})
    async with running_cloud(config) as cloud:
        await cloud.harvest.post("/", data=b"x", headers={"Content-Type": "text/plain"})
        assert len((await cloud.api.get("/v1/data/Subscriber/440109999")).json()) == 1


async def test_harvest_disabled_is_400_and_stores_nothing() -> None:
    async with running_cloud(CloudConfig(harvest_enabled=False)) as cloud:
        answer = await cloud.harvest.post("/", data=b"x", headers={"Content-Type": "text/plain"})
        assert answer.status == 400 and "not enabled" in answer.json()["message"]
        assert (await cloud.api.get(SUBSCRIBER_DATA)).json() == []


async def test_oversized_entry_is_400() -> None:
    async with running_cloud(CloudConfig(harvest_max_entry_bytes=16)) as cloud:
        answer = await cloud.harvest.post("/", data=b"x" * 17, headers={"Content-Type": "text/plain"})
        assert answer.status == 400
        assert (
            await cloud.harvest.post("/", data=b"x" * 16, headers={"Content-Type": "text/plain"})
        ).status == 201


async def test_ingest_host_refuses_other_methods_in_the_error_shape(cloud: Cloud) -> None:
    answer = await cloud.harvest.get("/")
    assert answer.status == 405 and answer.error_code == "COM0004"


async def test_entries_of_the_same_millisecond_are_all_kept(cloud: Cloud) -> None:
    first = cloud.store.add_data_entry("Device", "d-1", 5_000, "text/plain", "a")
    second = cloud.store.add_data_entry("Device", "d-1", 5_000, "text/plain", "b")
    assert (first.time, second.time) == (5_000, 5_001)
    contents = [e["content"] for e in (await cloud.api.get("/v1/devices/d-1/data?sort=asc")).json()]
    assert contents == ["a", "b"]


# ---- TCP and UDP ------------------------------------------------------------------------------------


async def test_tcp_messages_are_stored_and_each_gets_a_reply(cloud: Cloud) -> None:
    host, port = cloud.running.harvest_socket
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b'{"t":1}')
    await writer.drain()
    assert await reader.read(100) == b"201"
    writer.write(b"plain words")
    await writer.drain()
    assert await reader.read(100) == b"201"
    writer.close()
    await writer.wait_closed()
    entries = (await cloud.api.get(f"{SUBSCRIBER_DATA}?sort=asc")).json()
    assert [(e["contentType"], e["content"]) for e in entries] == [
        ("application/json", '{"t":1}'),
        ("text/plain", "plain words"),
    ]


async def udp_exchange(address: tuple[str, int], payload: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, address)
        await loop.sock_sendall(sock, payload)
        return await asyncio.wait_for(loop.sock_recv(sock, 1024), timeout=5)


async def test_udp_datagrams_are_stored_and_answered(cloud: Cloud) -> None:
    assert await udp_exchange(cloud.running.harvest_socket, b"\x01\x02\xff") == b"201"
    (entry,) = (await cloud.api.get(SUBSCRIBER_DATA)).json()
    assert entry["contentType"] == "application/octet-stream"
    assert base64.b64decode(entry["content"]) == b"\x01\x02\xff"


async def test_udp_reply_says_why_when_rejected() -> None:
    async with running_cloud(CloudConfig(harvest_enabled=False)) as cloud:
        reply = await udp_exchange(cloud.running.harvest_socket, b"x")
        assert reply.startswith(b"400 ") and b"not enabled" in reply


async def test_socket_reply_template_is_configurable() -> None:
    async with running_cloud(CloudConfig(socket_reply_template="OK {status}")) as cloud:
        assert await udp_exchange(cloud.running.harvest_socket, b"x") == b"OK 201"


# ---- Unified Endpoint ---------------------------------------------------------------------------------


async def test_unified_endpoint_with_only_harvest_answers_as_harvest(cloud: Cloud) -> None:
    answer = await cloud.unified.post(
        "/", data=b'{"a":1}', headers={"Content-Type": "application/json", "X-Soracom-Timestamp": "42"}
    )
    assert answer.status == 201
    (entry,) = (await cloud.api.get(SUBSCRIBER_DATA)).json()
    assert entry["time"] != 42  # the Unified Endpoint takes no custom timestamp


async def test_unified_format_answers_200_with_per_service_results() -> None:
    async with running_cloud(CloudConfig(unified_format="unified")) as cloud:
        answer = await cloud.unified.post("/", data=b"{}", headers={"Content-Type": "application/json"})
        assert answer.status == 200
        assert answer.json() == {"result": "ok", "detail": {"harvest": {"statusCode": 201, "body": ""}}}


async def test_unified_endpoint_answers_207_when_a_destination_fails() -> None:
    async with running_cloud(CloudConfig(unified_extra_services={"beam": 502, "funnel": 204})) as cloud:
        answer = await cloud.unified.post("/", data=b"{}", headers={"Content-Type": "application/json"})
        assert answer.status == 207
        body = answer.json()
        assert body["result"] == "ng"
        assert {name: d["statusCode"] for name, d in body["detail"].items()} == {
            "harvest": 201,
            "beam": 502,
            "funnel": 204,
        }
        assert len((await cloud.api.get(SUBSCRIBER_DATA)).json()) == 1


async def test_unified_udp_stores_and_replies(cloud: Cloud) -> None:
    assert await udp_exchange(cloud.running.unified_socket, b'{"u":1}') == b"201"
    (entry,) = (await cloud.api.get(SUBSCRIBER_DATA)).json()
    assert entry["content"] == '{"u":1}'


# ---- Read API ---------------------------------------------------------------------------------------


async def test_entries_page_newest_first_by_default_with_next_key(cloud: Cloud) -> None:
    times = seed(cloud, 25)
    first = await cloud.api.get(SUBSCRIBER_DATA)
    assert [e["time"] for e in first.json()] == times[::-1][:10]
    next_key = first.headers["x-soracom-next-key"]
    assert next_key == str(times[15])
    assert 'rel="next"' in first.headers["link"]
    collected = [e["time"] for e in first.json()]
    while "x-soracom-next-key" in first.headers:
        first = await cloud.api.get(
            f"{SUBSCRIBER_DATA}?last_evaluated_key={first.headers['x-soracom-next-key']}"
        )
        collected += [e["time"] for e in first.json()]
    assert collected == times[::-1]


async def test_entries_ascending_with_range_and_limit(cloud: Cloud) -> None:
    times = seed(cloud, 10)
    answer = await cloud.api.get(f"{SUBSCRIBER_DATA}?sort=asc&from={times[2]}&to={times[7]}&limit=4")
    assert [e["time"] for e in answer.json()] == times[2:6]
    rest = await cloud.api.get(
        f"{SUBSCRIBER_DATA}?sort=asc&from={times[2]}&to={times[7]}&limit=4"
        f"&last_evaluated_key={answer.headers['x-soracom-next-key']}"
    )
    assert [e["time"] for e in rest.json()] == times[6:8]
    assert "x-soracom-next-key" not in rest.headers


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "limit=ten", "sort=sideways", "from=soon", "last_evaluated_key=abc"]
)
async def test_bad_query_parameters_are_400(cloud: Cloud, query: str) -> None:
    answer = await cloud.api.get(f"{SUBSCRIBER_DATA}?{query}")
    assert answer.status == 400 and answer.error_code == "COM0001"
    assert query.split("=")[0] in answer.json()["message"]


async def test_unknown_resource_type_is_400(cloud: Cloud) -> None:
    answer = await cloud.api.get("/v1/data/Toaster/1")
    assert answer.status == 400 and "resource_type" in answer.json()["message"]


async def test_get_and_delete_one_entry(cloud: Cloud) -> None:
    times = seed(cloud, 3)
    got = await cloud.api.get(f"{SUBSCRIBER_DATA}/{times[1]}")
    assert got.status == 200 and json.loads(got.json()["content"]) == {"n": 1}
    deleted = await cloud.api.delete(f"{SUBSCRIBER_DATA}/{times[1]}")
    assert deleted.status == 204 and deleted.body == b""
    assert (await cloud.api.get(f"{SUBSCRIBER_DATA}/{times[1]}")).status == 404
    assert (await cloud.api.delete(f"{SUBSCRIBER_DATA}/{times[1]}")).status == 404
    assert [e["time"] for e in (await cloud.api.get(SUBSCRIBER_DATA)).json()] == [times[2], times[0]]
    assert (await cloud.api.get(f"{SUBSCRIBER_DATA}/not-a-time")).status == 400


async def test_resource_metadata_lists_sources_with_attribute_names_and_pages(cloud: Cloud) -> None:
    cloud.store.add_data_entry("Subscriber", "a", 1, "application/json", '{"temp":1}')
    cloud.store.add_data_entry("Subscriber", "a", 2, "application/json", '{"hum":2}')
    cloud.store.add_data_entry("Subscriber", "b", 3, "text/plain", "x")
    cloud.store.add_data_entry("Device", "d-1", 4, "application/json", '{"v":1}')
    everything = (await cloud.api.get("/v1/data/metadata/resources")).json()
    assert [(r["resourceType"], r["resourceId"]) for r in everything] == [
        ("Device", "d-1"),
        ("Subscriber", "a"),
        ("Subscriber", "b"),
    ]
    assert everything[1]["attributeNames"] == ["hum", "temp"] and everything[1]["lastModifiedTime"] == 2
    subscribers = await cloud.api.get("/v1/data/metadata/resources?resource_type=Subscriber&limit=1")
    assert [r["resourceId"] for r in subscribers.json()] == ["a"]
    rest = await cloud.api.get(
        "/v1/data/metadata/resources?resource_type=Subscriber&limit=1"
        f"&last_evaluated_key={subscribers.headers['x-soracom-next-key']}"
    )
    assert [r["resourceId"] for r in rest.json()] == ["b"]
    assert "x-soracom-next-key" not in rest.headers
    assert (await cloud.api.get("/v1/data/resources")).json() == everything


# ---- SIM-less Inventory devices ----------------------------------------------------------------------


async def test_publish_with_the_device_secret_stores_a_device_entry(cloud: Cloud) -> None:
    cloud.store.set_device_secret("d-abc", "s3cret")
    answer = await cloud.anonymous.post(
        "/v1/devices/d-abc/publish?device_secret=s3cret",
        data=b'{"level":3}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status == 201 and answer.body == b""
    (entry,) = (await cloud.api.get("/v1/devices/d-abc/data")).json()
    assert entry["resourceType"] == "Device" and json.loads(entry["content"]) == {"level": 3}


@pytest.mark.parametrize("query", ["device_secret=wrong", "", "device_secret="])
async def test_publish_with_a_wrong_or_missing_secret_is_400(cloud: Cloud, query: str) -> None:
    cloud.store.set_device_secret("d-abc", "s3cret")
    answer = await cloud.anonymous.post(f"/v1/devices/d-abc/publish?{query}", data=b"x")
    assert answer.status == 400
    assert (
        await cloud.anonymous.post("/v1/devices/d-unknown/publish?device_secret=s3cret", data=b"x")
    ).status == 400
    assert (await cloud.api.get("/v1/devices/d-abc/data")).json() == []


async def test_publish_is_rate_limited_per_device_with_retry_after() -> None:
    config = CloudConfig(publish_rate_limit=RateLimit(max_requests=2, per_seconds=0.3))
    async with running_cloud(config) as cloud:
        cloud.store.set_device_secret("d-a", "a")
        cloud.store.set_device_secret("d-b", "b")
        statuses = [
            (await cloud.anonymous.post("/v1/devices/d-a/publish?device_secret=a", data=b"x")).status
            for _ in range(3)
        ]
        assert statuses == [201, 201, 429]
        limited = await cloud.anonymous.post("/v1/devices/d-a/publish?device_secret=a", data=b"x")
        assert limited.status == 429 and limited.error_code == "COM0005"
        assert int(limited.headers["Retry-After"]) >= 1
        other = await cloud.anonymous.post("/v1/devices/d-b/publish?device_secret=b", data=b"x")
        assert other.status == 201
        await asyncio.sleep(0.35)
        again = await cloud.anonymous.post("/v1/devices/d-a/publish?device_secret=a", data=b"x")
        assert again.status == 201
        assert len((await cloud.api.get("/v1/devices/d-a/data")).json()) == 3


async def test_python_side_entries_show_in_device_data(cloud: Cloud) -> None:
    cloud.store.add_data_entry(
        "Device", "d-obs", 1_700_000_000_000, "application/json", '{"3303/0/5700":21.5}'
    )
    answer = await cloud.api.get("/v1/devices/d-obs/data")
    assert [(e["time"], e["content"]) for e in answer.json()] == [(1_700_000_000_000, '{"3303/0/5700":21.5}')]
