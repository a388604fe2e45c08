"""``lwm2m-agent run`` with a device key, as a SIM-less Soracom device: a real subprocess over real DTLS.

The key comes from a file holding the base64 secret as the console shows it; the key never appears
in the agent's output, a loose key file and ``--psk-key`` get their warnings, and the state directory
is owner-only.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import stat
from collections.abc import AsyncIterator
from pathlib import Path as FsPath

import pytest
from support import CLI, run_cli

from agent.core.formats import ContentFormat
from agent.simulator.dtls_front import DtlsFront
from agent.simulator.lwm2m_server import LwM2MServer

IDENTITY = "d-cli00000000000000xx"
KEY = os.urandom(16)
SECRET = base64.b64encode(KEY).decode()


@pytest.fixture
async def front(server: LwM2MServer) -> AsyncIterator[DtlsFront]:
    front = DtlsFront(("127.0.0.1", server.port), {IDENTITY: KEY}.get)
    await front.start()
    try:
        yield front
    finally:
        await front.close()


async def run_until_registered(server: LwM2MServer, *args: str, endpoint: str = "cli-dtls") -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", "--endpoint", endpoint, "--bind", "127.0.0.1", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        await server.wait_registered(endpoint, 15)
        assert (await server.read(endpoint, "/3/0/0", ContentFormat.TEXT)).code == "2.05"
        assert (await server.read(endpoint, "/0/0", ContentFormat.TLV)).code == "4.01"
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode is not None
        return proc.returncode, out.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_run_with_a_device_key_file(server: LwM2MServer, front: DtlsFront, tmp_path: FsPath) -> None:
    key_file = tmp_path / "device.key"
    key_file.write_text(SECRET + "\n")
    key_file.chmod(0o600)
    state = tmp_path / "state"
    code, out = await run_until_registered(server, "--server", front.uri, "--psk-identity", IDENTITY,
                                           "--psk-key-file", str(key_file), "--state-dir", str(state))
    assert code == 0, out
    assert SECRET not in out and KEY.hex() not in out
    assert "readable by others" not in out
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for f in state.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


async def test_loose_key_file_and_key_on_the_command_line_warn(server: LwM2MServer, front: DtlsFront,
                                                               tmp_path: FsPath) -> None:
    key_file = tmp_path / "device.key"
    key_file.write_text(SECRET)
    key_file.chmod(0o644)
    code, out = await run_until_registered(server, "--server", front.uri, "--psk-identity", IDENTITY,
                                           "--psk-key-file", str(key_file))
    assert code == 0, out
    assert "readable by others" in out and f"chmod 600 {key_file}" in out
    code, out = await run_until_registered(server, "--server", front.uri, "--psk-identity", IDENTITY,
                                           "--psk-key", SECRET, endpoint="cli-dtls-2")
    assert code == 0, out
    assert "process list" in out or "(ps)" in out
    assert out.count(SECRET) == 0


async def test_bad_key_input_is_refused_at_start(tmp_path: FsPath) -> None:
    code, out = await run_cli("run", "--server", "coaps://127.0.0.1:5684", "--psk-identity", IDENTITY,
                              "--psk-key", "not base64!")
    assert code == 2 and "not base64" in out
    code, out = await run_cli("run", "--server", "coaps://127.0.0.1:5684", "--psk-identity", IDENTITY,
                              "--psk-key-file", str(tmp_path / "missing.key"))
    assert code == 2 and "missing.key" in out
    code, out = await run_cli("run", "--server", "coaps://127.0.0.1:5684", "--psk-identity", IDENTITY)
    assert code == 2 and "--psk-key-file" in out


async def test_soracom_preset_profile_check(tmp_path: FsPath) -> None:
    """``soracom = "jp"`` with a key file is the SIM-less flow; ``profile check`` never prints the key."""
    key_file = tmp_path / "device.key"
    key_file.write_text(SECRET)
    key_file.chmod(0o600)
    profile = tmp_path / "pi.toml"
    profile.write_text('[server]\nsoracom = "jp"\nendpoint = "pi-1"\npsk_identity = "d-abc"\n'
                       'psk_key_file = "device.key"\n\n[objects.3.0]\nsystem = "device"\n')
    code, out = await run_cli("profile", "check", str(profile))
    assert code == 0, out
    assert "coaps://jp.inventory.soracom.io:5684" in out
    assert SECRET not in out and KEY.hex() not in out
    sim = tmp_path / "sim.toml"
    sim.write_text('[server]\nsoracom = "g"\nendpoint = "pi-2"\n\n[objects.3.0]\nsystem = "device"\n')
    code, out = await run_cli("profile", "check", str(sim))
    assert code == 0, out
    assert "coap://bootstrap.soracom.io:5683" in out


def test_soracom_preset_on_the_command_line() -> None:
    """``--soracom jp`` with a key is the SIM-less flow; without one it is the SIM bootstrap flow."""
    from agent.daemon.runner import AgentOptions, server_profile

    sim_less = server_profile(AgentOptions(soracom="jp", psk_identity="d-x", psk_key=KEY, endpoint="pi"), None)
    assert sim_less.uri == "coaps://jp.inventory.soracom.io:5684" and sim_less.bootstrap_uri is None
    assert sim_less.psk_identity == b"d-x" and sim_less.psk_key == KEY
    assert sim_less.lwm2m_version == "1.0" and sim_less.short_server_id == 123
    with_sim = server_profile(AgentOptions(soracom="g", endpoint="pi"), None)
    assert with_sim.uri is None and with_sim.bootstrap_uri == "coap://bootstrap.soracom.io:5683"
    override = server_profile(AgentOptions(soracom="g", server_uri="coaps://example.test:5684", psk_identity="d-x",
                                           psk_key=KEY), None)
    assert override.uri == "coaps://example.test:5684"


async def test_without_dtlssocket_the_agent_says_what_to_install(tmp_path: FsPath) -> None:
    """A Python without DTLSSocket (a package directory that fails to import stands in for it)."""
    missing = tmp_path / "nodtls" / "DTLSSocket"
    missing.mkdir(parents=True)
    (missing / "__init__.py").write_text("raise ImportError('DTLSSocket is not installed')\n")
    env = {**os.environ, "PYTHONPATH": f"{missing.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", "--server", "coaps://127.0.0.1:5684", "--endpoint", "no-dtls", "--psk-identity", IDENTITY,
        "--psk-key", SECRET, "--bind", "127.0.0.1", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        seen = ""
        while "apt-get install" not in seen:
            line = await asyncio.wait_for(proc.stdout.readline(), 15)
            assert line, seen
            seen += line.decode()
        assert "aiocoap[tinydtls]" in seen and "autoconf" in seen
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 15)
        assert proc.returncode == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
