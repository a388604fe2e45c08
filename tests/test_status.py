"""``lwm2m-agent status``: asked of a real running agent through the socket in its state directory."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import stat
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from support import AgentProcess, run_cli

from agent.core.formats import ContentFormat
from agent.daemon.status import AgentStatus, StatusFormatError, render
from agent.daemon.status_socket import SOCKET_NAME, StatusUnavailable, query_status
from agent.simulator.lwm2m_server import LwM2MServer


async def test_status_of_a_running_agent(server: LwM2MServer, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    async with AgentProcess(tmp_path / "agent.log", "--server", server.uri, "--endpoint", "asked",
                            "--simulate-hardware", "--state-dir", str(state)) as agent:
        await server.wait_registered("asked", 20)
        assert stat.S_IMODE(state.stat().st_mode) == 0o700, "tightened at start"
        observation = await server.observe("asked", "/3303/0/5700", ContentFormat.TEXT)
        code, out = await run_cli("status", "--state-dir", str(state))
        assert code == 0, out
        lines = out.splitlines()
        assert agent.proc is not None
        assert lines[0].startswith(f"agent: pid {agent.proc.pid}, running for ")
        assert "endpoint: asked" in lines
        assert "registration: registered (LwM2M 1.1)" in lines
        assert f"server: {server.uri}" in lines
        last = next(line for line in lines if line.startswith("last update: "))
        assert re.fullmatch(r"last update: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+ s ago\)", last), last
        assert "observations: 1 (/3303/0/5700)" in lines
        assert "queue: none" in lines
        await observation.cancel("get")  # a GET with Observe=1: the agent forgets it at once
        assert (await query_status(state)).observations == []
        agent.proc.send_signal(signal.SIGTERM)
        assert await agent.exited() == 0, agent.log
    code, out = await run_cli("status", "--state-dir", str(state))
    assert code == 3
    assert f"no agent is running with state directory {state}" in out


async def test_status_without_an_agent_says_so(tmp_path: Path) -> None:
    code, out = await run_cli("status", "--state-dir", str(tmp_path / "missing"))
    assert code == 3 and "does not exist" in out and "--state-dir" in out
    stale = tmp_path / SOCKET_NAME
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(stale))  # a socket file nobody listens on: what a killed agent leaves
    sock.close()
    code, out = await run_cli("status", "--state-dir", str(tmp_path))
    assert code == 3 and "left from one that stopped" in out


async def test_a_second_agent_on_the_same_state_directory_is_refused(server: LwM2MServer, tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with AgentProcess(tmp_path / "first.log", "--server", server.uri, "--endpoint", "first",
                            "--simulate-hardware", "--state-dir", str(state)) as first:
        await server.wait_registered("first", 20)
        assert first.proc is not None
        code, out = await run_cli("run", "--server", server.uri, "--endpoint", "second", "--simulate-hardware",
                                  "--bind", "127.0.0.1", "--state-dir", str(state))
        assert code == 1
        assert f"another agent (pid {first.proc.pid}, endpoint first) is running with it" in out
        assert "own --state-dir" in out
        assert not server.is_registered("second")
        assert (await query_status(state)).endpoint == "first", "the first one goes on"


async def test_an_agent_that_was_killed_leaves_a_socket_the_next_one_replaces(server: LwM2MServer,
                                                                             tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with AgentProcess(tmp_path / "a.log", "--server", server.uri, "--endpoint", "killed",
                            "--simulate-hardware", "--state-dir", str(state)) as agent:
        await server.wait_registered("killed", 20)
        assert agent.proc is not None
        agent.proc.kill()
        await agent.exited()
    assert (state / SOCKET_NAME).exists()
    try:
        await query_status(state)
        raise AssertionError("a dead agent answered")
    except StatusUnavailable as exc:
        assert "left from one that stopped" in str(exc)
    async with AgentProcess(tmp_path / "b.log", "--server", server.uri, "--endpoint", "killed",
                            "--simulate-hardware", "--state-dir", str(state)) as again:
        assert again.proc is not None
        for _ in range(100):
            try:
                if (await query_status(state)).pid == again.proc.pid:
                    break
            except StatusUnavailable:
                pass
            await asyncio.sleep(0.05)
        assert (await query_status(state)).pid == again.proc.pid


# ---- the wire form (a parser: property-based) -----------------------------------------------------

finite = st.floats(min_value=0, max_value=4e9, allow_nan=False)
statuses = st.builds(
    AgentStatus, pid=st.integers(1, 2**22), started_at=finite, endpoint=st.text(max_size=40),
    state=st.sampled_from(["registered", "registering", "backoff", "bootstrapping"]), server=st.text(max_size=60),
    lwm2m_version=st.sampled_from(["1.0", "1.1"]), bootstrap=st.none() | st.text(max_size=40),
    last_update_at=st.none() | finite, observations=st.lists(st.text(max_size=20), max_size=5),
    queue=st.none() | st.integers(0, 10**9),
    extra=st.dictionaries(st.text(min_size=1, max_size=10).filter(lambda k: k not in AgentStatus.__dataclass_fields__
                                                                  and k != "format"),
                          st.integers() | st.text(max_size=10), max_size=3),
)


@given(statuses)
def test_status_round_trips_and_renders(status: AgentStatus) -> None:
    decoded = AgentStatus.from_json(status.to_json())
    assert decoded == status
    lines = render(decoded, now=5e9)
    assert f"endpoint: {status.endpoint}" in lines
    assert ("queue: none" if status.queue is None else f"queue: {status.queue}") in lines
    for key, value in status.extra.items():
        assert f"{key}: {value}" in lines, "a field from a newer agent is shown as it came"


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=3), max_leaves=8)


@given(st.binary(max_size=200) | st.dictionaries(st.sampled_from(
    ["format", "pid", "started_at", "endpoint", "state", "server", "lwm2m_version", "last_update_at",
     "observations", "queue", "other"]), json_values).map(lambda d: json.dumps(d).encode()))
def test_bad_status_answers_are_refused_with_a_reason(data: bytes) -> None:
    try:
        status = AgentStatus.from_json(data)
    except StatusFormatError as exc:
        assert str(exc)
    else:
        render(status, now=5e9)


def test_status_from_another_version_names_the_problem() -> None:
    try:
        AgentStatus.from_json(b'{"format": 2, "pid": 1}')
        raise AssertionError("accepted")
    except StatusFormatError as exc:
        assert "status format 2" in str(exc) and "different versions" in str(exc)
