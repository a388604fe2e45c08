"""The emulator's API authentication and its error answers, over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cloud_openapi import Cloud, running_cloud


@pytest.fixture
async def cloud() -> AsyncIterator[Cloud]:
    async with running_cloud() as running:
        yield running


async def test_auth_key_pair_gets_an_api_key_and_token_that_work(cloud: Cloud) -> None:
    answer = await cloud.anonymous.post(
        "/v1/auth", json={"authKeyId": cloud.config.auth_key_id, "authKey": cloud.config.auth_key}
    )
    assert answer.status == 200
    issued = answer.json()
    assert issued["operatorId"] == cloud.config.operator_id
    assert issued["apiKey"].startswith("api-") and issued["token"]
    headers = {"X-Soracom-API-Key": issued["apiKey"], "X-Soracom-Token": issued["token"]}
    listed = await cloud.anonymous.get("/v1/sigfox_devices", headers=headers)
    assert listed.status == 200 and listed.json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"authKeyId": "keyId-emulator", "authKey": "wrong"},
        {"authKeyId": "keyId-other", "authKey": "secret-emulator"},
        {"authKeyId": "keyId-emulator"},
        {"email": "someone@example.com", "password": "p@ss"},
        {"operatorId": "OP0000000001", "userName": "sam", "password": "p@ss"},
    ],
)
async def test_wrong_or_unsupported_credentials_are_401_aum0002(cloud: Cloud, body: dict[str, str]) -> None:
    answer = await cloud.anonymous.post("/v1/auth", json=body)
    assert answer.status == 401
    assert answer.error_code == "AUM0002"


async def test_auth_with_bad_json_is_400(cloud: Cloud) -> None:
    answer = await cloud.anonymous.post(
        "/v1/auth", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400
    assert answer.error_code == "COM0001"
    assert "JSON" in answer.json()["message"]


async def test_auth_with_a_json_array_is_400(cloud: Cloud) -> None:
    answer = await cloud.anonymous.post("/v1/auth", json=["keyId-emulator", "secret-emulator"])
    assert answer.status == 400


@pytest.mark.parametrize("timeout", [0, 172801, "60", True])
async def test_token_timeout_out_of_range_is_400(cloud: Cloud, timeout: object) -> None:
    answer = await cloud.anonymous.post(
        "/v1/auth",
        json={
            "authKeyId": cloud.config.auth_key_id,
            "authKey": cloud.config.auth_key,
            "tokenTimeoutSeconds": timeout,
        },
    )
    assert answer.status == 400
    assert "tokenTimeoutSeconds" in answer.json()["message"]


async def test_calls_without_key_and_token_are_401_aum0001(cloud: Cloud) -> None:
    answer = await cloud.anonymous.get("/v1/data/Subscriber/001010000000001")
    assert answer.status == 401
    assert answer.error_code == "AUM0001"
    only_key = await cloud.anonymous.get(
        "/v1/sigfox_devices", headers={"X-Soracom-API-Key": cloud.api.headers["X-Soracom-API-Key"]}
    )
    assert only_key.status == 401 and only_key.error_code == "AUM0001"


async def test_unknown_or_mismatched_token_is_401(cloud: Cloud) -> None:
    wrong_token = {**cloud.api.headers, "X-Soracom-Token": "not-the-token"}
    answer = await cloud.anonymous.get("/v1/sigfox_devices", headers=wrong_token)
    assert answer.status == 401
    assert answer.error_code == "AUM0003"


async def test_expired_token_is_refused(cloud: Cloud) -> None:
    expired = cloud.store.issue_token(cloud.config.operator_id, timeout_seconds=-1)
    headers = {"X-Soracom-API-Key": expired.api_key, "X-Soracom-Token": expired.token}
    answer = await cloud.anonymous.get("/v1/sigfox_devices", headers=headers)
    assert answer.status == 401 and answer.error_code == "AUM0003"


async def test_logout_revokes_the_key_and_token(cloud: Cloud) -> None:
    answer = await cloud.api.post("/v1/auth/logout")
    assert answer.status == 204 and answer.body == b""
    after = await cloud.api.get("/v1/sigfox_devices")
    assert after.status == 401


async def test_unknown_route_is_404_in_the_error_shape(cloud: Cloud) -> None:
    answer = await cloud.api.get("/v1/no_such_service")
    assert answer.status == 404
    assert answer.error_code == "COM0002"
    outside = await cloud.anonymous.get("/favicon.ico")
    assert outside.status == 404 and outside.error_code == "COM0002"


async def test_unknown_route_without_credentials_is_401_first(cloud: Cloud) -> None:
    answer = await cloud.anonymous.get("/v1/no_such_service")
    assert answer.status == 401


async def test_wrong_method_is_405_with_allow(cloud: Cloud) -> None:
    answer = await cloud.api.request("PATCH", "/v1/sigfox_devices")
    assert answer.status == 405
    assert answer.error_code == "COM0004"
    assert "GET" in answer.headers["Allow"]
