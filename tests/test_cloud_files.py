"""Harvest Files in the emulator: the API's file operations and the device-side upload host."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cloud_openapi import Cloud, running_cloud

from agent.simulator.cloud import CloudConfig

TEXT = {"Content-Type": "text/plain"}


@pytest.fixture
async def cloud() -> AsyncIterator[Cloud]:
    async with running_cloud() as running:
        yield running


async def test_put_then_download_through_the_redirect(cloud: Cloud) -> None:
    created = await cloud.api.put("/v1/files/private/logs/day1.txt", data=b"first", headers=TEXT)
    assert created.status == 201 and created.body == b""
    redirect = await cloud.api.get("/v1/files/private/logs/day1.txt")
    assert redirect.status == 302
    downloaded = await cloud.api.follow(redirect)
    assert downloaded.status == 200 and downloaded.body == b"first"
    assert downloaded.headers["Content-Type"] == "text/plain"


async def test_put_over_a_file_replaces_it_with_200(cloud: Cloud) -> None:
    await cloud.api.put("/v1/files/private/a.bin", data=b"one")
    replaced = await cloud.api.put("/v1/files/private/a.bin", data=b"two", headers=TEXT)
    assert replaced.status == 200
    assert (await cloud.api.follow(await cloud.api.get("/v1/files/private/a.bin"))).body == b"two"


async def test_head_gives_length_type_and_etag(cloud: Cloud) -> None:
    await cloud.api.put(
        "/v1/files/private/m/data.json", data=b'{"k":1}', headers={"Content-Type": "application/json"}
    )
    head = await cloud.api.head("/v1/files/private/m/data.json")
    assert head.status == 200 and head.body == b""
    assert head.headers["Content-Length"] == "7"
    assert head.headers["Content-Type"] == "application/json"
    listed = (await cloud.api.get("/v1/files/private/m/")).json()
    assert head.headers["ETag"].strip('"') == listed[0]["etag"]
    assert (await cloud.api.head("/v1/files/private/m/none.json")).status == 404


async def test_missing_file_is_404(cloud: Cloud) -> None:
    answer = await cloud.api.get("/v1/files/private/nothing/here.txt")
    assert answer.status == 404 and answer.error_code == "COM0002"


async def test_directory_listing_shows_files_and_subdirectories(cloud: Cloud) -> None:
    await cloud.api.put("/v1/files/private/d/one.txt", data=b"1", headers=TEXT)
    await cloud.api.put("/v1/files/private/d/sub/two.txt", data=b"22", headers=TEXT)
    listing = (await cloud.api.get("/v1/files/private/d/")).json()
    assert [(e["filename"], e["isDirectory"]) for e in listing] == [("one.txt", False), ("sub", True)]
    one = listing[0]
    assert one["filePath"] == "/d/one.txt" and one["directory"] == "/d/" and one["contentLength"] == 1
    root = (await cloud.api.get("/v1/files/private/")).json()
    assert [e["filePath"] for e in root] == ["/d/"]
    assert (await cloud.api.get("/v1/files/private///")).json() == root
    assert (await cloud.api.get("/v1/files/private/nodir/")).status == 404


async def test_a_directory_named_without_slash_redirects_to_its_listing(cloud: Cloud) -> None:
    await cloud.api.put("/v1/files/private/d/one.txt", data=b"1", headers=TEXT)
    redirect = await cloud.api.get("/v1/files/private/d")
    assert redirect.status == 302
    assert redirect.headers["Location"].endswith("/v1/files/private/d/")


async def test_directory_listing_pages_by_file_name(cloud: Cloud) -> None:
    for name in "edcba":
        await cloud.api.put(f"/v1/files/private/p/{name}.txt", data=b"x", headers=TEXT)
    first = await cloud.api.get("/v1/files/private/p/?limit=2")
    assert [e["filename"] for e in first.json()] == ["a.txt", "b.txt"]
    names = [e["filename"] for e in first.json()]
    while "x-soracom-next-key" in first.headers:
        first = await cloud.api.get(
            f"/v1/files/private/p/?limit=2&last_evaluated_key={first.headers['x-soracom-next-key']}"
        )
        names += [e["filename"] for e in first.json()]
    assert names == ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"]


async def test_find_files_by_prefix_in_byte_order_with_paging(cloud: Cloud) -> None:
    for path in ("/x/2.txt", "/x/1.txt", "/x/deep/3.txt", "/y/4.txt"):
        await cloud.api.put(f"/v1/files/private{path}", data=b"x", headers=TEXT)
    found = await cloud.api.get("/v1/files?scope=private&prefix=/x/&limit=2")
    assert [e["filePath"] for e in found.json()] == ["/x/1.txt", "/x/2.txt"]
    rest = await cloud.api.get(
        f"/v1/files?scope=private&prefix=/x/&limit=2&last_evaluated_key={found.headers['x-soracom-next-key']}"
    )
    assert [e["filePath"] for e in rest.json()] == ["/x/deep/3.txt"]
    assert (await cloud.api.get("/v1/files?scope=private&prefix=/nothing")).json() == []
    assert (await cloud.api.get("/v1/files?scope=private")).status == 400
    assert (await cloud.api.get("/v1/files?scope=elsewhere&prefix=/")).status == 404


async def test_delete_file_then_the_empty_directory(cloud: Cloud) -> None:
    await cloud.api.put("/v1/files/private/gone/f.txt", data=b"x", headers=TEXT)
    not_empty = await cloud.api.delete("/v1/files/private/gone/")
    assert not_empty.status == 400 and "not empty" in not_empty.json()["message"]
    assert (await cloud.api.delete("/v1/files/private/gone/f.txt")).status == 204
    assert (await cloud.api.delete("/v1/files/private/gone/f.txt")).status == 404
    assert (await cloud.api.get("/v1/files/private/gone/")).json() == []
    assert (await cloud.api.delete("/v1/files/private/gone/")).status == 204
    assert (await cloud.api.get("/v1/files/private/gone/")).status == 404
    assert (await cloud.api.delete("/v1/files/private/gone/")).status == 404


async def test_public_scope_is_read_only_and_empty(cloud: Cloud) -> None:
    assert (await cloud.api.put("/v1/files/public/x.txt", data=b"x")).status == 400
    assert (await cloud.api.get("/v1/files/public/")).json() == []
    assert (await cloud.api.get("/v1/files/public/x.txt")).status == 404


async def test_a_file_cannot_replace_a_directory_nor_sit_under_a_file(cloud: Cloud) -> None:
    await cloud.api.put("/v1/files/private/d/f.txt", data=b"x", headers=TEXT)
    assert (await cloud.api.put("/v1/files/private/d", data=b"x")).status == 400
    assert (await cloud.api.put("/v1/files/private/d/f.txt/g.txt", data=b"x")).status == 400


@pytest.mark.parametrize(
    "path",
    [
        "/" + "a" * 1024,  # 1,025 bytes
        "/" + "/".join(["d"] * 17),  # 17 levels
        "/a//b.txt",
    ],
)
async def test_paths_beyond_harvest_files_limits_are_400(cloud: Cloud, path: str) -> None:
    answer = await cloud.files.put(path, data=b"x")
    assert answer.status == 400 and answer.error_code == "COM0001"


async def test_paths_at_the_limits_are_accepted(cloud: Cloud) -> None:
    assert (await cloud.files.put("/" + "a" * 1023, data=b"x")).status == 201
    assert (await cloud.files.put("/" + "/".join(["d"] * 16), data=b"x")).status == 201


async def test_size_limit_is_413() -> None:
    async with running_cloud(CloudConfig(files_max_bytes=1000)) as cloud:
        assert (await cloud.files.put("/big.bin", data=b"x" * 1000)).status == 201
        too_big = await cloud.files.put("/big.bin", data=b"x" * 1001)
        assert too_big.status == 413 and too_big.error_code == "COM0006"
        via_api = await cloud.api.put("/v1/files/private/big2.bin", data=b"x" * 1001)
        assert via_api.status == 413


async def test_device_uploads_with_put_and_post_and_downloads_with_get(cloud: Cloud) -> None:
    assert (
        await cloud.files.put("/cam/1.jpg", data=b"\xff\xd8jpeg", headers={"Content-Type": "image/jpeg"})
    ).status == 201
    assert (
        await cloud.files.post("/cam/1.jpg", data=b"\xff\xd8jpeg2", headers={"Content-Type": "image/jpeg"})
    ).status == 200
    got = await cloud.files.get("/cam/1.jpg")
    assert got.status == 200 and got.body == b"\xff\xd8jpeg2" and got.headers["Content-Type"] == "image/jpeg"
    assert (await cloud.files.get("/cam/2.jpg")).status == 404
    via_api = await cloud.api.follow(await cloud.api.get("/v1/files/private/cam/1.jpg"))
    assert via_api.body == b"\xff\xd8jpeg2"


async def test_device_path_template_puts_uploads_under_the_sender() -> None:
    async with running_cloud(CloudConfig(files_device_path_template="/{resource_id}{path}")) as cloud:
        await cloud.files.put("/log.txt", data=b"x", headers={**TEXT, "X-Soracom-Imsi": "440101"})
        listing = (await cloud.api.get("/v1/files/private/440101/")).json()
        assert [e["filePath"] for e in listing] == ["/440101/log.txt"]


async def test_download_link_is_unknown_after_it_expires() -> None:
    async with running_cloud(CloudConfig(download_link_ttl_seconds=0.0)) as cloud:
        await cloud.api.put("/v1/files/private/f.txt", data=b"x", headers=TEXT)
        expired = await cloud.api.follow(await cloud.api.get("/v1/files/private/f.txt"))
        assert expired.status == 404
