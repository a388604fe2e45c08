"""Property tests for what the trust checks parse: raw CoAP headers, ranges, bindings, refusal logs."""

from __future__ import annotations

import logging

import pytest
from aiocoap import ACK, CON, NON, Code, Message
from hypothesis import given
from hypothesis import strategies as st

from agent.client.incidents import IncidentLog
from agent.core.datagram import error_reply, peek
from agent.core.errors import BadRequest
from agent.core.model import Operations, ResourceModel, ResourceType
from agent.core.path import Path
from agent.core.value_rules import BINDING_LETTERS, check_binding, check_value, parse_range


@given(st.binary(max_size=64))
def test_peek_never_raises(data: bytes) -> None:
    header = peek(data)
    if header is not None:
        assert len(header.token) <= 8 and 0 <= header.mid < 1 << 16


@given(mtype=st.sampled_from([CON, NON]), code=st.sampled_from([Code.GET, Code.PUT, Code.POST, Code.DELETE]),
       mid=st.integers(0, 0xFFFF), token=st.binary(max_size=8), payload=st.binary(max_size=20))
def test_peek_reads_what_aiocoap_wrote_and_the_reply_is_what_aiocoap_reads(
        mtype: object, code: Code, mid: int, token: bytes, payload: bytes) -> None:
    msg = Message(code=code, payload=payload, uri_path=("3", "0"))
    msg.mtype, msg.mid, msg.token = mtype, mid, token
    header = peek(msg.encode())
    assert header is not None and header.is_request
    assert (header.mtype, header.code, header.mid, header.token) == (int(mtype), int(code), mid, token)  # type: ignore[call-overload]
    reply = error_reply(header, (4, 2), "an option is not UTF-8")
    assert reply is not None
    answer = Message.decode(reply)
    assert answer.code == Code.BAD_OPTION and answer.token == token
    assert answer.mtype == (ACK if mtype == CON else NON)
    if mtype == CON:
        assert answer.mid == mid
    assert answer.payload == b"an option is not UTF-8"


@given(st.binary(max_size=32))
def test_no_reply_to_what_is_not_a_request(data: bytes) -> None:
    header = peek(data)
    if header is not None and not header.is_request:
        assert error_reply(header, (4, 0)) is None


@given(low=st.integers(-1000, 1000), span=st.integers(0, 1000), sep=st.sampled_from(["..", "-", " - "]),
       unit=st.sampled_from(["", " bytes"]))
def test_parse_range_reads_written_ranges(low: int, span: int, sep: str, unit: str) -> None:
    text = f"{low}{sep}{low + span}{unit}"
    parsed = parse_range(text)
    assert parsed is not None
    assert (parsed.low, parsed.high, parsed.of_length) == (low, low + span, bool(unit))


@pytest.mark.parametrize("text", ["", "The possible values are listed in 5.3.1.1", "16-32-48 bytes", "6 bytes", "9..1"])
def test_texts_that_state_no_range(text: str) -> None:
    assert parse_range(text) is None


@given(st.text(alphabet=BINDING_LETTERS + "XYZuq", max_size=8))
def test_binding_letters(binding: str) -> None:
    valid = bool(binding) and set(binding) <= set(BINDING_LETTERS) and len(set(binding)) == len(binding)
    if valid:
        check_binding(binding)
    else:
        with pytest.raises(BadRequest):
            check_binding(binding)


@given(st.integers(-300, 300))
def test_numeric_range_of_a_model(value: int) -> None:
    model = ResourceModel(5, "Percent", Operations.RW, ResourceType.INTEGER, range_enumeration="0..100")
    if 0 <= value <= 100:
        check_value(Path(3303, 0, 5), model, value)
    else:
        with pytest.raises(BadRequest, match=r"outside the range 0\.\.100"):
            check_value(Path(3303, 0, 5), model, value)


@given(st.integers(-5, 5))
def test_lifetime_rule(value: int) -> None:
    model = ResourceModel(1, "Lifetime", Operations.RW, ResourceType.INTEGER)
    if value >= 1:
        check_value(Path(1, 0, 1), model, value)
    else:
        with pytest.raises(BadRequest, match="lifetime"):
            check_value(Path(1, 0, 1), model, value)


def test_incident_log_writes_one_line_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.incidents")
    incidents = IncidentLog("refused", interval=3600, logger=logger)
    with caplog.at_level(logging.WARNING, logger="test.incidents"):
        for i in range(1000):
            incidents.note("refused", ("10.0.0.1" if i % 2 else f"10.0.{i}.2", 5683))
        assert len(caplog.records) == 1  # the first, at once; the rest wait for the interval
        incidents.flush()
    assert len(caplog.records) == 2
    assert "refused x999" in caplog.records[1].getMessage()
    assert "more" in caplog.records[1].getMessage()  # sources beyond the named few are only counted
    assert incidents["refused"] == 1000


def _block(payload: bytes, num: int, more: bool, szx: int, size1: int | None = None) -> Message:
    from aiocoap.optiontypes import BlockOption

    msg = Message(code=Code.PUT, uri_path=("3", "0", "5"), payload=payload)
    msg.opt.block1 = BlockOption.BlockwiseTuple(num, more, szx)
    if size1 is not None:
        msg.opt.size1 = size1
    msg.remote = ("peer", 5683)
    return msg


@given(body=st.binary(min_size=1, max_size=3000), szx=st.integers(0, 6))
def test_blocks_in_order_reassemble_the_body(body: bytes, szx: int) -> None:
    from agent.client.uploads import Block1Uploads

    uploads = Block1Uploads()
    size = 16 << szx
    chunks = [body[i:i + size] for i in range(0, len(body), size)]
    whole = None
    for num, chunk in enumerate(chunks):
        whole = uploads.feed(_block(chunk, num, num < len(chunks) - 1, szx, size1=len(body)))
        assert (whole is None) == (num < len(chunks) - 1)
    assert whole is not None and whole.payload == body
    assert len(uploads) == 0 and uploads.spooled_bytes == 0


@given(blocks=st.integers(3, 20), skip=st.integers(1, 18), szx=st.integers(0, 3))
def test_a_gap_is_4_08_and_forgets_the_upload(blocks: int, skip: int, szx: int) -> None:
    from agent.client.uploads import Block1Uploads
    from agent.core.errors import RequestEntityIncomplete

    skip = min(skip, blocks - 1)
    uploads = Block1Uploads()
    size = 16 << szx
    for num in range(skip):
        assert uploads.feed(_block(b"x" * size, num, True, szx)) is None
    with pytest.raises(RequestEntityIncomplete):
        uploads.feed(_block(b"y" * size, skip + 1, True, szx))
    assert len(uploads) == 0 and uploads.spooled_bytes == 0


@given(total=st.integers(0, 1 << 31))
def test_a_size1_over_the_cap_is_4_13_at_the_first_block(total: int) -> None:
    from agent.client.uploads import Block1Uploads, TooLarge, UploadLimits

    uploads = Block1Uploads(UploadLimits(max_size=4096))
    if total > 4096:
        with pytest.raises(TooLarge):
            uploads.feed(_block(b"x" * 64, 0, True, 2, size1=total))
    else:
        assert uploads.feed(_block(b"x" * 64, 0, True, 2, size1=total)) is None
    assert uploads.spooled_bytes <= 64


@pytest.mark.parametrize("units,good,bad", [("%", 100, 101), ("s", 0, -1), ("lat", -90.0, 90.5), ("ms", 5, -5)])
def test_units_bound_values_when_the_model_gives_no_range(units: str, good: float, bad: float) -> None:
    rtype = ResourceType.FLOAT if isinstance(good, float) else ResourceType.INTEGER
    model = ResourceModel(1, "Thing", Operations.RW, rtype, units=units)
    check_value(Path(32769, 0, 1), model, good)
    with pytest.raises(BadRequest, match="outside the range"):
        check_value(Path(32769, 0, 1), model, bad)


@given(ip=st.ip_addresses(v=4), port=st.integers(1, 65535))
def test_a_source_is_the_same_from_an_ipv4_or_a_mapped_ipv6_socket(ip: object, port: int) -> None:
    from agent.client.guard import source_of

    assert source_of((f"::ffff:{ip}", port, 0, 0)) == source_of((str(ip), port)) == (str(ip), port)


@given(ip=st.ip_addresses(v=6), port=st.integers(1, 65535))
def test_an_ipv6_source_keeps_its_address_without_the_scope(ip: object, port: int) -> None:
    from agent.client.guard import source_of

    assert source_of((f"{ip}%eth0", port, 0, 2)) == (str(ip), port)
