"""The LwM2M 1.1 communication retry policy (agent.client.retry): pure arithmetic, so hypothesis."""

from __future__ import annotations

import itertools
import random

from hypothesis import given
from hypothesis import strategies as st

from agent.client.retry import (
    DEFAULT_RETRY_COUNT,
    DEFAULT_RETRY_TIMER,
    DEFAULT_SEQUENCE_DELAY,
    RetryPolicy,
    RetryResources,
)

resources = st.builds(RetryResources, retry_count=st.integers(1, 10), retry_timer=st.floats(0, 1e6),
                      sequence_delay=st.floats(0, 1e7), sequence_retry_count=st.integers(1, 5))


def test_specification_defaults_double_then_wait_a_sequence_delay_capped_by_the_ceiling() -> None:
    policy = RetryPolicy(ceiling=1e9)
    nominal = [policy.nominal_delay(RetryResources()) for _ in range(DEFAULT_RETRY_COUNT * 2)]
    # Attempts 1-4 of a sequence wait 60, 120, 240, 480 s; the 5th failure ends the sequence.
    assert nominal[:5] == [60, 120, 240, 480, DEFAULT_SEQUENCE_DELAY]
    assert nominal[5:] == nominal[:5], "a new sequence starts over"
    capped = RetryPolicy(ceiling=3600)
    assert [capped.nominal_delay(RetryResources()) for _ in range(5)] == [60, 120, 240, 480, 3600]


@given(resources, st.floats(1, 1e5), st.integers(0, 2**32), st.integers(1, 40))
def test_every_delay_is_jittered_into_the_upper_half_and_never_above_the_ceiling(
        res: RetryResources, ceiling: float, seed: int, attempts: int) -> None:
    jittered = RetryPolicy(ceiling=ceiling, rng=random.Random(seed))
    plain = RetryPolicy(ceiling=ceiling)
    for _ in range(attempts):
        nominal = plain.nominal_delay(res)
        delay = jittered.next_delay(res)
        assert 0 <= nominal / 2 <= delay <= nominal <= ceiling


@given(resources, st.integers(1, 30))
def test_reset_starts_a_fresh_sequence(res: RetryResources, failures: int) -> None:
    policy = RetryPolicy(ceiling=1e12)
    for _ in range(failures):
        policy.nominal_delay(res)
    policy.reset()
    assert policy.nominal_delay(res) == (res.retry_timer if res.retry_count > 1 else res.sequence_delay)


def test_fleet_jitter_spreads_the_first_retry() -> None:
    delays = [RetryPolicy(rng=random.Random(seed)).next_delay(RetryResources()) for seed in range(1000)]
    assert min(delays) >= DEFAULT_RETRY_TIMER / 2 and max(delays) <= DEFAULT_RETRY_TIMER
    assert len({round(d) for d in delays}) > 25, "not in lock-step"


@given(st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True), st.text(max_size=3)))
def test_resource_values_that_make_no_sense_fall_back_to_the_defaults(value: object) -> None:
    res = RetryResources.from_values(value, value, value, value)
    assert res.retry_count >= 1 and res.sequence_retry_count >= 1
    assert res.retry_timer >= 0 and res.sequence_delay >= 0
    if value is None or isinstance(value, bool | str):
        assert res == RetryResources()


def test_written_values_are_used() -> None:
    assert RetryResources.from_values(3, 10, 600, 2) == RetryResources(3, 10.0, 600.0, 2)
    assert RetryResources.from_values(None, None, None, None).retry_timer == DEFAULT_RETRY_TIMER


async def test_the_agent_retries_on_the_timers_its_server_object_holds() -> None:
    """A server that answers every Register with 5.03: retries follow /1/0/17-19 as written there."""
    import asyncio
    import time

    from aiocoap import Code, Message
    from aiocoap.numbers.types import Type
    from support import build_tree, client_settings

    from agent.client.agent import LwM2MClient

    loop = asyncio.get_running_loop()
    attempts: list[float] = []

    class Busy(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            request = Message.decode(data)
            if request.code != Code.POST:
                return
            attempts.append(time.monotonic())
            answer = Message(code=Code.SERVICE_UNAVAILABLE)
            answer.mtype, answer.mid, answer.token = Type.ACK, request.mid, request.token
            self.transport.sendto(answer.encode(), addr)  # type: ignore[attr-defined]

    transport, _ = await loop.create_datagram_endpoint(Busy, local_addr=("127.0.0.1", 0))
    uri = f"coap://127.0.0.1:{transport.get_extra_info('sockname')[1]}"
    tree = build_tree(uri)
    server_instance = tree.objects[1].instances[0]
    for rid, value in ((17, 3), (18, 1), (19, 2)):  # 3 attempts a sequence, 1 s base, 2 s between sequences
        server_instance.resources[rid].set(value)  # type: ignore[attr-defined]
    client = LwM2MClient(tree, client_settings(uri, backoff_initial=None, backoff_max=3600.0))
    await client.start()
    try:
        await asyncio.sleep(4.5)
    finally:
        await client.stop(deregister=False)
        transport.close()
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # Nominal 1, 2, then the 2 s sequence delay, each jittered into its upper half: never a 60 s wait.
    assert len(attempts) >= 3, attempts
    assert 0.45 <= gaps[0] <= 1.3 and 0.95 <= gaps[1] <= 2.3, gaps


@given(st.integers(0, 2**32), st.floats(0, 1e6))
def test_pings_come_every_few_seconds_then_slow_down_after_five_minutes(seed: int, silent_for: float) -> None:
    from agent.client.retry import PROBE_INTERVAL, PROBE_SLOW_AFTER, PROBE_SLOW_INTERVAL, probe_interval

    low, high = PROBE_INTERVAL if silent_for < PROBE_SLOW_AFTER else PROBE_SLOW_INTERVAL
    assert low <= probe_interval(random.Random(seed), silent_for) <= high
    assert high + 2 < 20, "the next ping is never far off: the link's return is noticed within 20 s"
