"""Reboot and Factory Reset from the server, as the shipped unit runs them: a real agent subprocess.

Nothing real is rebooted: the agent's part of a reboot ends at its exit status, which the unit
maps to a reboot (tests/test_systemd_unit.py checks that mapping).
"""

from __future__ import annotations

import asyncio
import signal
import stat
from pathlib import Path

from support import AgentProcess, agent_models

from agent.client.persistence import TREE_FILE as STATE_FILE
from agent.daemon.device_control import EXIT_REBOOT
from agent.daemon.status_socket import SOCKET_NAME, query_status
from agent.simulator.bootstrap_server import BootstrapServer, BootstrapSettings
from agent.simulator.lwm2m_server import ClientRegistration, LwM2MServer


async def test_reboot_answers_then_deregisters_then_exits_with_the_reboot_status(server: LwM2MServer,
                                                                                 tmp_path: Path) -> None:
    events: list[str] = []
    server.on_deregister.append(lambda reg: events.append(f"de-registered {reg.endpoint}"))
    async with AgentProcess(tmp_path / "agent.log", "--server", server.uri, "--endpoint", "rebooted",
                            "--simulate-hardware", "--state-dir", str(tmp_path / "state")) as agent:
        await server.wait_registered("rebooted", 20)
        result = await server.execute("rebooted", "/3/0/4")
        events.append(f"answered {result.code}")
        status = await agent.exited(20)
        events.append(f"exited {status}")
        assert events == ["answered 2.04", "de-registered rebooted", f"exited {EXIT_REBOOT}"], agent.log
        assert f"exiting with status {EXIT_REBOOT}" in agent.log
        assert not (tmp_path / "state" / SOCKET_NAME).exists(), "the status socket goes with the agent"


async def test_factory_reset_empties_the_state_directory_and_bootstraps_again(server: LwM2MServer,
                                                                               tmp_path: Path) -> None:
    async def provision(endpoint: str) -> tuple[str, bytes]:
        return f"d-{endpoint}", bytes(16)

    bs = BootstrapServer(agent_models(), BootstrapSettings(dm_server_uri=server.uri, lifetime=45), provision)
    await bs.start()
    state = tmp_path / "state"
    registrations: list[ClientRegistration] = []
    server.on_register.append(registrations.append)
    deregistered = asyncio.Event()
    server.on_deregister.append(lambda reg: deregistered.set())
    try:
        async with AgentProcess(tmp_path / "agent.log", "--bootstrap", bs.uri, "--endpoint", "reset-me",
                                "--simulate-hardware", "--state-dir", str(state)) as agent:
            assert (await bs.wait_finished("reset-me", 20)).finished
            await server.wait_registered("reset-me", 20)
            assert (state / STATE_FILE).exists()
            (state / "queue").mkdir()
            (state / "queue" / "0001.msg").write_bytes(b"telemetry the reset discards")
            del bs.records["reset-me"]
            result = await server.execute("reset-me", "/3/0/5")
            assert result.code == "2.04"
            await asyncio.wait_for(deregistered.wait(), 10)
            again = await bs.wait_finished("reset-me", 20)
            assert again.finished, again.error
            await server.wait_for(lambda: len(registrations) == 2 and server.is_registered("reset-me"), 20)
            left = {p.name for p in state.iterdir()}
            assert "queue" not in left and {STATE_FILE, SOCKET_NAME} <= left, "queue gone, new account"
            assert stat.S_IMODE((state / STATE_FILE).stat().st_mode) == 0o600
            assert (await query_status(state)).state == "registered", "the same process serves on"
            assert "factory reset: removed " in agent.log
            assert agent.proc is not None
            agent.proc.send_signal(signal.SIGTERM)
            assert await agent.exited() == 0, agent.log
    finally:
        await bs.stop()
