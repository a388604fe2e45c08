"""Bad input never stops the agent: malformed datagrams and payloads get an error code, and it goes on."""

from __future__ import annotations

import asyncio
import json

import cbor2
import pytest
from aiocoap import Code
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import ENDPOINT

from agent.client.agent import LwM2MClient
from agent.core.formats import ContentFormat
from agent.core.path import Path
from agent.simulator.lwm2m_server import LwM2MServer

EP = ENDPOINT

BAD_PAYLOADS = [
    ("truncated TLV", ContentFormat.TLV, bytes([0xC8, 0x00, 0x10]) + b"abc"),
    ("TLV 24-bit length beyond the payload", ContentFormat.TLV, bytes([0xD8, 0x00, 0xFF, 0xFF, 0xFF]) + b"x"),
    ("TLV wrong integer width", ContentFormat.TLV, bytes([0xC3, 0x01, 0x01, 0x02, 0x03])),
    ("bad CBOR", ContentFormat.SENML_CBOR, b"\xff\xfe\x00"),
    ("CBOR not a list of maps", ContentFormat.SENML_CBOR, cbor2.dumps({"a": 1})),
    ("JSON not SenML", ContentFormat.SENML_JSON, json.dumps({"hello": "world"}).encode()),
    ("SenML name that is not a path", ContentFormat.SENML_JSON, json.dumps([{"n": "abc", "v": 1}]).encode()),
    ("SenML wrong type for the resource", ContentFormat.SENML_JSON,
     json.dumps([{"n": "/32769/0/1", "vs": "not a number"}]).encode()),
    ("LwM2M JSON without e", ContentFormat.LWM2M_JSON, json.dumps({"bn": "/32769/0/"}).encode()),
    ("not UTF-8 text", ContentFormat.TEXT, b"\xff\xfe"),
    ("huge text number", ContentFormat.TEXT, b"9" * 5000),
]


@pytest.mark.parametrize("name,fmt,payload", BAD_PAYLOADS, ids=[b[0] for b in BAD_PAYLOADS])
async def test_bad_payload_gets_4_00(server: LwM2MServer, agent: LwM2MClient, name: str, fmt: int,
                                     payload: bytes) -> None:
    target = Path(32769, 0, 1) if fmt in (ContentFormat.TEXT, ContentFormat.TLV) else Path(32769, 0)
    result = await server.request(EP, Code.PUT, target, payload=payload, content_format=fmt)
    assert result.code == "4.00", result.text
    assert result.payload, "the error says what is wrong"
    # The value is untouched and the agent still serves.
    assert (await server.read(EP, "/32769/0/1", ContentFormat.TEXT)).value() == -42


async def test_garbage_datagrams_are_ignored(server: LwM2MServer, agent: LwM2MClient) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    try:
        for junk in (b"", b"\x00", b"\xff" * 3, b"\x40\x01\x00", b"\x48\x01\x00\x01" + b"\xff" * 200,
                     bytes(range(256)), b"\x44\x01\x12\x34\xde\xad\xbe\xef\xff"):
            transport.sendto(junk, ("127.0.0.1", agent.port))
        await asyncio.sleep(0.1)
    finally:
        transport.close()
    assert (await server.read(EP, "/3/0/0", ContentFormat.TEXT)).code == "2.05"


async def test_unknown_methods_and_paths(server: LwM2MServer, agent: LwM2MClient) -> None:
    assert (await server.request(EP, Code.PATCH, Path(3, 0))).code == "4.05"
    from aiocoap import Message
    msg = Message(code=Code.GET, uri_path=("x", "y"))
    msg.remote = server.registration(EP).remote
    response = await server.context_required.request(msg).response
    assert response.code == Code.BAD_REQUEST


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=300),
       fmt=st.sampled_from([ContentFormat.TLV, ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON,
                            ContentFormat.LWM2M_JSON, ContentFormat.TEXT, ContentFormat.OPAQUE]))
async def test_random_payloads_never_break_the_agent(server: LwM2MServer, agent: LwM2MClient, payload: bytes,
                                                     fmt: int) -> None:
    result = await server.request(EP, Code.PUT, Path(32769, 0), payload=payload, content_format=fmt)
    assert result.code[0] in "24", result.code
    assert result.code != "5.00"
    assert (await server.read(EP, "/3/0/0", ContentFormat.TEXT)).code == "2.05"
