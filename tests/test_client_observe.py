"""Observe, notification attributes and cancellation, end to end over loopback UDP."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiocoap import Code
from support import ENDPOINT

from agent.client.agent import LwM2MClient
from agent.core.formats import ContentFormat
from agent.core.path import Path
from agent.simulator.lwm2m_server import LwM2MServer
from agent.tree import StoredValue

EP = ENDPOINT


def binding(agent: LwM2MClient, path: str) -> StoredValue:
    p = Path.parse(path)
    b = agent.tree.instance(p).resources[p[2]]
    assert isinstance(b, StoredValue)
    return b


async def wait_until(predicate, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("fmt", [ContentFormat.TEXT, ContentFormat.TLV, ContentFormat.SENML_CBOR,
                                 ContentFormat.SENML_JSON, ContentFormat.LWM2M_JSON], ids=lambda f: f.label)
async def test_change_notifies(server: LwM2MServer, agent: LwM2MClient, fmt: ContentFormat) -> None:
    obs = await server.observe(EP, "/32769/0/1", fmt)
    assert obs.first is not None and obs.first.code == "2.05" and obs.first.value() == -42
    binding(agent, "/32769/0/1").set(5)
    note = await obs.next(2)
    assert note.value() == 5 and note.content_format == fmt
    await obs.cancel()


async def test_write_by_server_notifies_observer(server: LwM2MServer, agent: LwM2MClient) -> None:
    obs = await server.observe(EP, "/32769/0/0", ContentFormat.TEXT)
    await server.write(EP, "/32769/0/0", "changed", content_format=ContentFormat.TEXT)
    assert (await obs.next(2)).value() == "changed"
    await obs.cancel()


async def test_pmin_delays_but_keeps_the_last_change(server: LwM2MServer, agent: LwM2MClient) -> None:
    assert (await server.write_attributes(EP, "/32769/0/1", pmin=1)).code == "2.04"
    obs = await server.observe(EP, "/32769/0/1", ContentFormat.TEXT)
    started = time.monotonic()
    b = binding(agent, "/32769/0/1")
    for value in (1, 2, 3):
        b.set(value)
        await asyncio.sleep(0.05)
    note = await obs.next(3)
    assert note.value() == 3, "the change inside pmin is sent when pmin elapses, with the latest value"
    assert time.monotonic() - started >= 0.9
    with pytest.raises(asyncio.TimeoutError):
        await obs.next(0.3)
    await obs.cancel()


async def test_pmax_notifies_without_change(server: LwM2MServer, agent: LwM2MClient) -> None:
    await server.write_attributes(EP, "/32769/0/1", pmax=1)
    obs = await server.observe(EP, "/32769/0/1", ContentFormat.TEXT)
    started = time.monotonic()
    first = await obs.next(3)
    second = await obs.next(3)
    elapsed = time.monotonic() - started
    assert first.value() == second.value() == -42
    assert 1.5 <= elapsed <= 3.0
    await obs.cancel()


async def test_gt_lt_st_on_a_float(server: LwM2MServer, agent: LwM2MClient) -> None:
    await server.write_attributes(EP, "/32769/0/3", gt=30, lt=10)
    obs = await server.observe(EP, "/32769/0/3", ContentFormat.TEXT)
    b = binding(agent, "/32769/0/3")
    b.set(22.0)  # no crossing: no notification
    with pytest.raises(asyncio.TimeoutError):
        await obs.next(0.3)
    b.set(31.0)  # crosses gt
    assert (await obs.next(2)).value() == 31.0
    b.set(5.0)  # crosses lt (and gt back down)
    assert (await obs.next(2)).value() == 5.0
    await obs.cancel()
    await server.write_attributes(EP, "/32769/0/3", st=2, gt=None, lt=None)
    obs = await server.observe(EP, "/32769/0/3", ContentFormat.TEXT)
    b.set(6.0)
    with pytest.raises(asyncio.TimeoutError):
        await obs.next(0.3)
    b.set(7.5)  # 2.5 from the last notified 5.0
    assert (await obs.next(2)).value() == 7.5
    await obs.cancel()


async def test_object_level_attributes_are_inherited(server: LwM2MServer, agent: LwM2MClient) -> None:
    await server.write_attributes(EP, "/32769", pmax=1)
    obs = await server.observe(EP, "/32769/0/2", ContentFormat.TEXT)
    note = await obs.next(2.5)
    assert note.value() == 42
    await obs.cancel()


async def test_server_default_pmin_applies(server: LwM2MServer, agent: LwM2MClient) -> None:
    await server.write(EP, "/1/0/2", 1, content_format=ContentFormat.TEXT)
    obs = await server.observe(EP, "/32769/0/1", ContentFormat.TEXT)
    started = time.monotonic()
    binding(agent, "/32769/0/1").set(77)
    assert (await obs.next(3)).value() == 77
    assert time.monotonic() - started >= 0.9
    await obs.cancel()


async def test_instance_observation(server: LwM2MServer, agent: LwM2MClient) -> None:
    obs = await server.observe(EP, "/32769/0", ContentFormat.SENML_JSON)
    binding(agent, "/32769/0/0").set("instance change")
    note = await obs.next(2)
    got = {rv.path: rv.value for rv in note.values}
    assert got[Path(32769, 0, 0)] == "instance change" and got[Path(32769, 0, 1)] == -42
    await obs.cancel()


async def test_cancel_by_rst(server: LwM2MServer, agent: LwM2MClient) -> None:
    obs = await server.observe(EP, "/32769/0/1", ContentFormat.TEXT)
    assert len(agent.session.observations) == 1
    await obs.cancel("rst")
    # Notifications are mostly NON, which a server may silently drop; the next CON one (at most
    # `confirmable_every` later) is answered RST and ends the observation.
    b = binding(agent, "/32769/0/1")
    for value in range(agent.session.observations.confirmable_every + 2):
        b.set(1000 + value)
        await asyncio.sleep(0.01)
    await wait_until(lambda: len(agent.session.observations) == 0)
    sent = agent.session.observations.notifications_sent
    b.set(3)
    await asyncio.sleep(0.1)
    assert agent.session.observations.notifications_sent == sent, "nothing is sent after the RST"


async def test_cancel_by_get_observe_1(server: LwM2MServer, agent: LwM2MClient) -> None:
    obs = await server.observe(EP, "/32769/0/1", ContentFormat.TEXT)
    await obs.cancel("get")
    await wait_until(lambda: len(agent.session.observations) == 0)


async def test_cancel_by_path_with_a_new_token(server: LwM2MServer, agent: LwM2MClient) -> None:
    obs = await server.observe(EP, "/32769/0/1", ContentFormat.TEXT)
    result = await server.request(EP, Code.GET, Path(32769, 0, 1), accept=ContentFormat.TEXT, observe=1)
    assert result.code == "2.05"
    await wait_until(lambda: len(agent.session.observations) == 0)
    obs.cancelled = True


async def test_observe_errors(server: LwM2MServer, agent: LwM2MClient) -> None:
    missing = await server.observe(EP, "/32769/0/99", ContentFormat.TEXT)
    assert missing.first is not None and missing.first.code == "4.04"
    unreadable = await server.observe(EP, "/32769/0/11", ContentFormat.TEXT)
    assert unreadable.first is not None and unreadable.first.code == "4.05"
    assert len(agent.session.observations) == 0


async def test_many_observations_and_deregistration_cancels_them(server: LwM2MServer,
                                                                 agent: LwM2MClient) -> None:
    observations = [await server.observe(EP, f"/32769/0/{rid}", ContentFormat.TEXT) for rid in (0, 1, 2, 3)]
    assert len(agent.session.observations) == 4
    agent.session.observations.cancel_all()
    assert len(agent.session.observations) == 0
    for obs in observations:
        obs.cancelled = True


async def test_epmax_samples_a_source_that_does_not_push(server: LwM2MServer, agent: LwM2MClient) -> None:
    """A binding that never calls changed() (a command, a file) is re-read every epmax seconds."""
    from agent.core.model import ResourceType
    from agent.tree.binding import ResourceBinding

    class Uncounted(ResourceBinding):
        def __init__(self) -> None:
            super().__init__()
            self.reads = 0

        async def read(self) -> int:
            self.reads += 1
            return self.reads * 10

    assert agent.tree.models.resource(Path(32769, 0, 10)).type is ResourceType.INTEGER  # type: ignore[union-attr]
    source = Uncounted()
    agent.tree.instance(Path(32769, 0)).resources[10] = source
    await server.write_attributes(EP, "/32769/0/10", epmin=0, epmax=1)
    obs = await server.observe(EP, "/32769/0/10", ContentFormat.TEXT)
    first = obs.first.value() if obs.first else None
    started = time.monotonic()
    note = await obs.next(3)
    assert note.value() > first  # type: ignore[operator]
    assert 0.8 <= time.monotonic() - started <= 2.5
    await obs.cancel()
