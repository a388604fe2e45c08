"""Device management end to end: the local LwM2M server drives a real agent over loopback UDP."""

from __future__ import annotations

import pytest
from support import ENDPOINT

from agent.client.agent import LwM2MClient
from agent.core.formats import ContentFormat
from agent.core.model import ObjectLink
from agent.core.path import Path
from agent.core.values import ResourceValue
from agent.simulator.lwm2m_server import LwM2MServer

EP = ENDPOINT
ALL_FORMATS = [ContentFormat.TLV, ContentFormat.LWM2M_JSON, ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR]
SINGLE_FORMATS = [ContentFormat.TEXT, *ALL_FORMATS]

EXPECTED = {
    0: "hello", 1: -42, 2: 42, 3: 21.5, 4: True, 5: b"\x00\x01\xfe\xff", 6: 1_700_000_000,
    7: ObjectLink(3, 0), 8: "</3/0>", 10: 7,
}


@pytest.mark.parametrize("fmt", SINGLE_FORMATS, ids=lambda f: f.label)
@pytest.mark.parametrize("rid", sorted(EXPECTED))
async def test_read_each_type_in_each_format(server: LwM2MServer, agent: LwM2MClient, fmt: ContentFormat,
                                             rid: int) -> None:
    result = await server.read(EP, f"/32769/0/{rid}", fmt)
    assert result.code == "2.05", result.text
    assert result.content_format == fmt
    assert result.value() == EXPECTED[rid]


async def test_read_opaque_as_octet_stream(server: LwM2MServer, agent: LwM2MClient) -> None:
    result = await server.read(EP, "/32769/0/5", ContentFormat.OPAQUE)
    assert result.code == "2.05"
    assert result.payload == b"\x00\x01\xfe\xff"


async def test_octet_stream_of_a_string_is_not_acceptable(server: LwM2MServer, agent: LwM2MClient) -> None:
    result = await server.read(EP, "/32769/0/0", ContentFormat.OPAQUE)
    assert result.code == "4.06"


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=lambda f: f.label)
async def test_read_instance_object_and_multiple_resource(server: LwM2MServer, agent: LwM2MClient,
                                                          fmt: ContentFormat) -> None:
    inst = await server.read(EP, "/32769/0", fmt)
    assert inst.code == "2.05"
    got = {rv.path: rv.value for rv in inst.values}
    assert got[Path(32769, 0, 0)] == "hello"
    assert got[Path(32769, 0, 9, 5)] == 50
    assert Path(32769, 0, 11) not in got, "write-only resources are left out of an instance read"
    obj = await server.read(EP, "/32769", fmt)
    assert {rv.path: rv.value for rv in obj.values} == got
    multi = await server.read(EP, "/32769/0/9", fmt)
    assert [(rv.path, rv.value) for rv in multi.values] == [
        (Path(32769, 0, 9, 0), 10), (Path(32769, 0, 9, 1), 20), (Path(32769, 0, 9, 5), 50)]


async def test_read_resource_instance(server: LwM2MServer, agent: LwM2MClient) -> None:
    result = await server.read(EP, "/32769/0/9/1", ContentFormat.TEXT)
    assert (result.code, result.text) == ("2.05", "20")
    missing = await server.read(EP, "/32769/0/9/3", ContentFormat.TEXT)
    assert missing.code == "4.04"


async def test_default_format_follows_the_version(server: LwM2MServer, agent: LwM2MClient) -> None:
    result = await server.read(EP, "/3/0")
    assert result.content_format == ContentFormat.SENML_CBOR  # registered as 1.1
    assert any(rv.path == Path(3, 0, 0) for rv in result.values)


@pytest.mark.parametrize("path,code", [
    ("/99", "4.04"), ("/32769/7", "4.04"), ("/32769/0/99", "4.04"), ("/32769/0/11", "4.05"),
    ("/32769/0/12", "4.05"), ("/0/0", "4.01"), ("/0", "4.01"),
])
async def test_read_errors(server: LwM2MServer, agent: LwM2MClient, path: str, code: str) -> None:
    assert (await server.read(EP, path, ContentFormat.TLV)).code == code


async def test_unknown_accept_is_not_acceptable(server: LwM2MServer, agent: LwM2MClient) -> None:
    from aiocoap import Code
    result = await server.request(EP, Code.GET, Path(3, 0, 0), accept=60)  # CBOR, not an LwM2M format
    assert result.code == "4.06"


@pytest.mark.parametrize("fmt", SINGLE_FORMATS, ids=lambda f: f.label)
async def test_write_each_type(server: LwM2MServer, agent: LwM2MClient, fmt: ContentFormat) -> None:
    new = {0: "wörld", 1: 123456789012, 2: 7, 3: -0.25, 4: False, 6: 1_800_000_000, 7: ObjectLink(1, 0),
           8: "</1/0>;ct=0"}
    if fmt != ContentFormat.TEXT:
        new[5] = bytes(range(40))
    for rid, value in new.items():
        result = await server.write(EP, f"/32769/0/{rid}", value, content_format=fmt)
        assert result.code == "2.04", (rid, result.text)
        assert (await server.read(EP, f"/32769/0/{rid}", ContentFormat.SENML_JSON)).value() == value


async def test_write_opaque_as_octet_stream(server: LwM2MServer, agent: LwM2MClient) -> None:
    assert (await server.write(EP, "/32769/0/5", b"\x10\x20", content_format=ContentFormat.OPAQUE)).code == "2.04"
    assert (await server.read(EP, "/32769/0/5", ContentFormat.OPAQUE)).payload == b"\x10\x20"


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=lambda f: f.label)
async def test_write_instance_partial_and_replace(server: LwM2MServer, agent: LwM2MClient,
                                                  fmt: ContentFormat) -> None:
    values = [ResourceValue(Path(32769, 0, 0), "partial"), ResourceValue(Path(32769, 0, 1), 5)]
    result = await server.write(EP, "/32769/0", values, replace=False, content_format=fmt)
    assert result.code == "2.04", result.text
    got = {rv.path: rv.value for rv in (await server.read(EP, "/32769/0", fmt)).values}
    assert (got[Path(32769, 0, 0)], got[Path(32769, 0, 1)], got[Path(32769, 0, 3)]) == ("partial", 5, 21.5)
    # Replace of a multiple resource keeps only the instances sent; partial update merges.
    multi = [ResourceValue(Path(32769, 0, 9, 3), 30)]
    assert (await server.write(EP, "/32769/0/9", multi, replace=False, content_format=fmt)).code == "2.04"
    after_merge = (await server.read(EP, "/32769/0/9", fmt)).values
    assert [rv.path[3] for rv in after_merge] == [0, 1, 3, 5]
    assert (await server.write(EP, "/32769/0/9", multi, replace=True, content_format=fmt)).code == "2.04"
    assert [(rv.path[3], rv.value) for rv in (await server.read(EP, "/32769/0/9", fmt)).values] == [(3, 30)]


async def test_write_errors(server: LwM2MServer, agent: LwM2MClient) -> None:
    assert (await server.write(EP, "/32769/0/10", 1, content_format=ContentFormat.TEXT)).code == "4.05"
    assert (await server.write(EP, "/3/0/0", "x", content_format=ContentFormat.TEXT)).code == "4.05"
    assert (await server.write(EP, "/32769/0/77", 1, content_format=ContentFormat.TEXT)).code == "4.04"
    assert (await server.write(EP, "/32769/9/1", 1, content_format=ContentFormat.TEXT)).code == "4.04"
    from aiocoap import Code
    bad_text = await server.request(EP, Code.PUT, Path(32769, 0, 1), payload=b"twelve",
                                    content_format=ContentFormat.TEXT)
    assert bad_text.code == "4.00"
    unknown = await server.request(EP, Code.PUT, Path(32769, 0, 1), payload=b"1", content_format=50)
    assert unknown.code == "4.15"
    no_format = await server.request(EP, Code.PUT, Path(32769, 0, 1), payload=b"1")
    assert no_format.code == "4.00"
    # Nothing changed by the refused writes.
    assert (await server.read(EP, "/32769/0/1", ContentFormat.TEXT)).value() == -42


async def test_write_is_all_or_nothing(server: LwM2MServer, agent: LwM2MClient) -> None:
    values = [ResourceValue(Path(32769, 0, 0), "should not stick"), ResourceValue(Path(32769, 0, 10), 1)]
    result = await server.write(EP, "/32769/0", values, replace=False, content_format=ContentFormat.SENML_JSON)
    assert result.code == "4.05"
    assert (await server.read(EP, "/32769/0/0", ContentFormat.TEXT)).value() == "hello"


async def test_execute_with_arguments(server: LwM2MServer, agent: LwM2MClient) -> None:
    assert (await server.execute(EP, "/32769/0/12", "0='on',3")).code == "2.04"
    assert (await server.read(EP, "/32769/0/13", ContentFormat.TEXT)).value() == "0='on',3"
    assert (await server.execute(EP, "/32769/0/12")).code == "2.04"
    assert (await server.execute(EP, "/32769/0/12", "bogus")).code == "4.00"
    assert (await server.execute(EP, "/32769/0/0")).code == "4.05"
    assert (await server.execute(EP, "/32769/0")).code in ("4.00", "4.05")
    assert (await server.execute(EP, "/32769/0/99")).code == "4.04"


async def test_create_and_delete(server: LwM2MServer, agent: LwM2MClient) -> None:
    values = [ResourceValue(Path(32769, 4, 0), "created"), ResourceValue(Path(32769, 4, 1), 9)]
    result = await server.create(EP, "/32769", values, content_format=ContentFormat.SENML_JSON)
    assert result.code == "2.01", result.text
    assert (await server.read(EP, "/32769/4/0", ContentFormat.TEXT)).value() == "created"
    again = await server.create(EP, "/32769", values, content_format=ContentFormat.SENML_JSON)
    assert again.code == "4.00"
    # The new instance shows up in the registration (an Update with the new object links).
    await server.wait_for(lambda: "/32769/4" in server.registration(EP).object_links, 5)
    assert (await server.delete(EP, "/32769/4")).code == "2.02"
    assert (await server.read(EP, "/32769/4", ContentFormat.TLV)).code == "4.04"
    assert (await server.delete(EP, "/32769/4")).code == "4.04"
    assert (await server.delete(EP, "/3/0")).code == "4.05"
    assert (await server.create(EP, "/3", [], content_format=ContentFormat.TLV)).code == "4.05"


async def test_create_with_tlv_without_instance_id(server: LwM2MServer, agent: LwM2MClient) -> None:
    from aiocoap import Code
    # A bare resource TLV (id 0, string "x"): the agent picks the instance id.
    result = await server.request(EP, Code.POST, Path(32769), payload=bytes([0xC1, 0x00, ord("x")]),
                                  content_format=ContentFormat.TLV)
    assert result.code == "2.01"
    assert result.location[0] == "32769" and result.location[1] != "0"
    assert (await server.read(EP, "/" + "/".join(result.location) + "/0", ContentFormat.TEXT)).value() == "x"


async def test_discover(server: LwM2MServer, agent: LwM2MClient) -> None:
    result = await server.discover(EP, "/3303")
    assert result.code == "2.05" and result.content_format == ContentFormat.LINK_FORMAT
    assert "</3303/0>" in result.text and "</3303/0/5700>" in result.text
    await server.write_attributes(EP, "/3303/0/5700", pmin=5, gt=30)
    result = await server.discover(EP, "/3303/0/5700")
    assert "</3303/0/5700>" in result.text and "pmin=5" in result.text and "gt=30" in result.text
    assert (await server.discover(EP, "/77")).code == "4.04"


async def test_write_attributes_errors(server: LwM2MServer, agent: LwM2MClient) -> None:
    assert (await server.write_attributes(EP, "/3303/0/5700", pmin="x")).code == "4.00"
    assert (await server.write_attributes(EP, "/3303/0/5700", nosuch=1)).code == "4.00"
    assert (await server.write_attributes(EP, "/3303/0/5700", lt=10, gt=5)).code == "4.00"
    assert (await server.write_attributes(EP, "/3303/9", pmin=1)).code == "4.04"


async def test_read_composite_and_write_composite(server: LwM2MServer, agent: LwM2MClient) -> None:
    for fmt in (ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR):
        result = await server.read_composite(EP, ["/32769/0/0", "/3/0/0", "/32769/0/9"], fmt)
        assert result.code == "2.05", result.text
        got = {rv.path: rv.value for rv in result.values}
        assert got[Path(32769, 0, 0)] == "hello" and got[Path(32769, 0, 9, 1)] == 20 and Path(3, 0, 0) in got
    values = [ResourceValue(Path(32769, 0, 0), "composite"), ResourceValue(Path(32769, 0, 1), 3)]
    assert (await server.write_composite(EP, values)).code == "2.04"
    assert (await server.read(EP, "/32769/0/0", ContentFormat.TEXT)).value() == "composite"


async def test_security_object_is_hidden_from_the_dm_server(server: LwM2MServer, agent: LwM2MClient) -> None:
    assert (await server.read(EP, "/0/0/5", ContentFormat.TEXT)).code == "4.01"
    assert (await server.write(EP, "/0/0/0", "coap://evil", content_format=ContentFormat.TEXT)).code == "4.01"


async def test_large_values_go_blockwise(server: LwM2MServer, agent: LwM2MClient) -> None:
    big = "x" * 3000 + "ü" * 1000
    result = await server.write(EP, "/32769/0/0", big, content_format=ContentFormat.TEXT)
    assert result.code == "2.04", result.text
    read = await server.read(EP, "/32769/0/0", ContentFormat.TEXT)
    assert read.value() == big
    blob = bytes(range(256)) * 40
    assert (await server.write(EP, "/32769/0/5", blob, content_format=ContentFormat.OPAQUE)).code == "2.04"
    assert (await server.read(EP, "/32769/0/5", ContentFormat.OPAQUE)).payload == blob
