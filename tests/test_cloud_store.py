"""The emulator's state across restarts (sqlite file), its pure parsers and its robustness to bad input."""

from __future__ import annotations

import base64
import json
import random
import sqlite3
from pathlib import Path

import pytest
from cloud_openapi import running_cloud
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.simulator.cloud import CloudConfig, CloudStore, RateLimit
from agent.simulator.cloud.errors import ApiError
from agent.simulator.cloud.files import check_file_path
from agent.simulator.cloud.ingest import entry_content, guess_content_type, is_textual
from agent.simulator.cloud.ratelimit import SlidingWindowLimiter
from agent.simulator.cloud.records import RuleViolation

TEXT = {"Content-Type": "text/plain"}


async def test_a_restarted_emulator_keeps_data_files_devices_sigfox_and_tokens(tmp_path: Path) -> None:
    database = tmp_path / "cloud.sqlite"
    config = CloudConfig()
    async with running_cloud(config, CloudStore.open(database)) as cloud:
        await cloud.harvest.post("/", data=b'{"t":1}', headers={"Content-Type": "application/json"})
        await cloud.api.put("/v1/files/private/keep/me.txt", data=b"kept", headers=TEXT)
        await cloud.api.post(
            "/v1/sigfox_devices/00000001/register", json={"registrationSecret": "PAC", "tags": {"k": "v"}}
        )
        await cloud.api.post("/v1/sigfox_devices/00000001/data", json={"data": "00112233445566ff"})
        cloud.store.set_device_secret("d-keep", "secret")
        cloud.store.save_device("d-keep", {"endpoint": "ep-1"})
        credentials = dict(cloud.api.headers)
        cloud.store.close()

    async with running_cloud(config, CloudStore.open(database)) as cloud:
        entries = (await cloud.api.get("/v1/data/Subscriber/001010000000001")).json()
        assert [e["content"] for e in entries] == ['{"t":1}']
        assert (await cloud.api.follow(await cloud.api.get("/v1/files/private/keep/me.txt"))).body == b"kept"
        assert (await cloud.api.get("/v1/sigfox_devices/00000001")).json()["tags"] == {"k": "v"}
        assert cloud.store.sigfox_uplink("00000001", b"\x01", want_downlink=True) == bytes.fromhex(
            "00112233445566ff"
        )
        assert cloud.store.device_secret("d-keep") == "secret"
        assert cloud.store.get_device("d-keep") == {"endpoint": "ep-1"}
        old_token = await cloud.anonymous.get("/v1/sigfox_devices", headers=credentials)
        assert old_token.status == 200
        published = await cloud.anonymous.post("/v1/devices/d-keep/publish?device_secret=secret", data=b"x")
        assert published.status == 201
        cloud.store.close()


def test_an_unknown_schema_version_is_refused_with_the_file_name(tmp_path: Path) -> None:
    database = tmp_path / "future.sqlite"
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(RuntimeError, match=r"future\.sqlite"):
        CloudStore.open(database)


def test_store_rules_raise_store_errors() -> None:
    store = CloudStore()
    store.register_sigfox_device("00000001", "PAC")
    with pytest.raises(RuleViolation):
        store.queue_sigfox_downlink("00000001", b"\x00" * 7)
    with pytest.raises(RuleViolation):
        store.put_file("private", "relative/path", b"", "text/plain")


# ---- pure parsers (property-based) ------------------------------------------------------------------


@settings(max_examples=150)
@given(
    st.binary(max_size=200), st.sampled_from(["application/octet-stream", "image/png", "application/cbor"])
)
def test_binary_payloads_round_trip_through_base64(payload: bytes, content_type: str) -> None:
    assert base64.b64decode(entry_content(payload, content_type)) == payload


@settings(max_examples=150)
@given(
    st.text(max_size=200),
    st.sampled_from(["text/plain", "application/json; charset=utf-8", "application/ld+json"]),
)
def test_text_payloads_are_kept_as_text(text: str, content_type: str) -> None:
    assert is_textual(content_type)
    assert entry_content(text.encode(), content_type) == text


@settings(max_examples=150)
@given(st.binary(max_size=100))
def test_guessed_type_always_stores_and_decodes_back(payload: bytes) -> None:
    content_type = guess_content_type(payload)
    content = entry_content(payload, content_type)
    restored = content.encode() if is_textual(content_type) else base64.b64decode(content)
    assert restored == payload
    if content_type == "application/json":
        json.loads(content)


path_segment = st.text(alphabet=st.characters(blacklist_characters="/\x00"), min_size=0, max_size=12)


@settings(max_examples=200)
@given(st.lists(path_segment, min_size=0, max_size=20), st.booleans())
def test_file_path_check_accepts_exactly_the_valid_paths(segments: list[str], trailing_slash: bool) -> None:
    config = CloudConfig()
    path = "/" + "/".join(segments) + ("/" if trailing_slash else "")
    encoded = path.encode(errors="surrogatepass")
    valid = (
        bool(segments)
        and not any("\ud800" <= char <= "\udfff" for char in path)
        and not trailing_slash
        and len(segments) <= config.files_max_path_depth
        and len(encoded) <= config.files_max_path_bytes
        and all(segment not in ("", ".", "..") for segment in segments)
    )
    try:
        assert check_file_path(config, path) == path
        accepted = True
    except ApiError as exc:
        assert exc.status == 400 and exc.message
        accepted = False
    assert accepted == valid


@settings(max_examples=100)
@given(
    st.integers(min_value=1, max_value=5),
    st.lists(st.floats(min_value=0.0, max_value=0.5, allow_nan=False), min_size=1, max_size=40),
)
def test_rate_limit_never_allows_more_than_the_limit_in_any_window(
    max_requests: int, gaps: list[float]
) -> None:
    window = 1.0
    clock = [0.0]
    limiter = SlidingWindowLimiter(RateLimit(max_requests, window), clock=lambda: clock[0])
    allowed: list[float] = []
    for gap in gaps:
        clock[0] += gap
        wait = limiter.acquire("device")
        if wait is None:
            allowed.append(clock[0])
        else:
            assert 0 < wait <= window
            in_window = [t for t in allowed if t > clock[0] - window]
            assert len(in_window) == max_requests
            # Waiting as told makes the request allowed (a refused request is not counted).
            clock[0] += wait + 1e-9
            assert limiter.acquire("device") is None
            allowed.append(clock[0])
    for i in range(len(allowed)):
        assert len([t for t in allowed[i:] if t < allowed[i] + window]) <= max_requests


# ---- robustness over HTTP ----------------------------------------------------------------------------


def random_body(rng: random.Random) -> bytes:
    choice = rng.randrange(5)
    if choice == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
    if choice == 1:
        return json.dumps(rng.choice([None, 1, "x", [], [1, {"a": None}], {"data": rng.random()}])).encode()
    if choice == 2:
        return json.dumps(
            {"registrationSecret": rng.choice(["", "x", 5, None]), "tags": rng.choice([[], {"a": 1}])}
        ).encode()
    if choice == 3:
        return (
            b'{"data": "'
            + bytes(rng.choice(b"0123456789abcdefXYZ ") for _ in range(rng.randrange(20)))
            + b'"}'
        )
    return b"{" * rng.randrange(1, 50)


async def test_garbage_requests_never_get_a_server_error() -> None:
    rng = random.Random(20240601)
    targets = [
        ("POST", "/v1/auth"),
        ("POST", "/v1/sigfox_devices/00000001/register"),
        ("POST", "/v1/sigfox_devices/00000001/data"),
        ("PUT", "/v1/sigfox_devices/00000001/tags"),
        ("POST", "/v1/sigfox_devices/00000001/set_group"),
        ("GET", "/v1/data/Subscriber/1?limit=%s"),
        ("GET", "/v1/files?scope=private&prefix=%s"),
        ("PUT", "/v1/files/private/%s"),
        ("GET", "/v1/sigfox_devices?limit=%s&tag_name=a&tag_value=%s"),
    ]
    async with running_cloud() as cloud:
        cloud.store.register_sigfox_device("00000001", "PAC")
        for _ in range(150):
            method, template = rng.choice(targets)
            noise = "".join(rng.choice("abc-1/%20.~") for _ in range(rng.randrange(1, 8)))
            path = template.replace("%s", noise)
            answer = await cloud.api.request(method, path, data=random_body(rng))
            assert answer.status < 500, (method, path, answer.body)
            if answer.status >= 400:
                assert answer.error_code
