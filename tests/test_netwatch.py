"""The network watch (agent.client.netwatch): its netlink parser, and the real kernel's messages."""

from __future__ import annotations

import asyncio
import shutil
import socket
import struct
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.client.netwatch import (
    IFA_ADDRESS,
    IFA_LOCAL,
    RTM_DELADDR,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    NetworkEvent,
    parse_messages,
)


def _attr(rtype: int, value: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(value), rtype) + value
    return raw + b"\0" * (-len(raw) % 4)


def _message(mtype: int, body: bytes) -> bytes:
    raw = struct.pack("=IHHII", 16 + len(body), mtype, 0, 1, 0) + body
    return raw + b"\0" * (-len(raw) % 4)


def _addr_message(mtype: int, family: int, address: bytes, index: int, attr: int = IFA_LOCAL) -> bytes:
    return _message(mtype, struct.pack("=BBBBI", family, 24, 0, 0, index) + _attr(attr, address))


def test_an_ipv4_and_an_ipv6_address_and_other_kinds() -> None:
    data = (_addr_message(RTM_NEWADDR, socket.AF_INET, bytes([192, 0, 2, 7]), 3)
            + _addr_message(RTM_DELADDR, socket.AF_INET6, socket.inet_pton(socket.AF_INET6, "2001:db8::1"), 4,
                            IFA_ADDRESS)
            + _message(RTM_NEWLINK, b"\0" * 16) + _message(RTM_NEWROUTE, b"\0" * 12) + _message(99, b"xx"))
    assert parse_messages(data) == [
        NetworkEvent("address", True, "192.0.2.7", 3),
        NetworkEvent("address", False, "2001:db8::1", 4),
        NetworkEvent("link", True),
        NetworkEvent("route", True),
    ]
    assert str(parse_messages(data)[0]) == "address added 192.0.2.7 on interface 3"


addresses = st.one_of(
    st.binary(min_size=4, max_size=4).map(lambda b: (socket.AF_INET, b)),
    st.binary(min_size=16, max_size=16).map(lambda b: (socket.AF_INET6, b)),
)
messages = st.lists(st.tuples(st.sampled_from([RTM_NEWADDR, RTM_DELADDR]), addresses, st.integers(0, 2**32 - 1)),
                    max_size=8)


@given(messages)
def test_generated_address_messages_parse_back(items: list[tuple[int, tuple[int, bytes], int]]) -> None:
    data = b"".join(_addr_message(mtype, family, raw, index) for mtype, (family, raw), index in items)
    events = parse_messages(data)
    assert [(e.added, e.address, e.interface) for e in events] == [
        (mtype == RTM_NEWADDR, socket.inet_ntop(family, raw), index) for mtype, (family, raw), index in items]


@given(st.binary(max_size=300))
def test_any_bytes_parse_without_raising(data: bytes) -> None:
    for event in parse_messages(data):
        assert event.kind in ("link", "address", "route")


@given(messages, st.data())
def test_a_truncated_datagram_yields_a_prefix_of_its_events(items: list[tuple[int, tuple[int, bytes], int]],
                                                            data: st.DataObject) -> None:
    whole = b"".join(_addr_message(mtype, family, raw, index) for mtype, (family, raw), index in items)
    cut = data.draw(st.integers(0, len(whole)))
    full, part = parse_messages(whole), parse_messages(whole[:cut])
    assert part == full[:len(part)], "a cut message is left out, never misread"


WATCH_IN_NAMESPACE = """
import asyncio, subprocess, sys
from agent.client.netwatch import NetworkWatch
async def main():
    got = asyncio.Queue()
    watch = NetworkWatch(got.put_nowait, debounce=0.2)
    assert watch.start()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", "192.0.2.55/32", "dev", "lo"], check=True)
    seen = []
    while not any(e.address == "192.0.2.55" for e in seen):
        seen += await asyncio.wait_for(got.get(), 5)
    print(watch.changes, *sorted({str(e) for e in seen if e.address == "192.0.2.55"}))
    watch.close()
asyncio.run(main())
"""


@pytest.mark.skipif(shutil.which("unshare") is None or shutil.which("ip") is None, reason="needs unshare and ip")
async def test_the_kernel_announces_a_new_address_in_a_network_namespace_of_our_own() -> None:
    # A namespace of its own: the machine's real interfaces are not touched, and no packet is sent.
    proc = await asyncio.create_subprocess_exec(
        "unshare", "--net", sys.executable, "-c", WATCH_IN_NAMESPACE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    if proc.returncode != 0 and b"Operation not permitted" in err:
        pytest.skip("no permission to create a network namespace here")
    assert proc.returncode == 0, err.decode()[-2000:]
    assert int(out.split()[0]) >= 1
    assert "address added 192.0.2.55 on interface 1" in out.decode()
