"""Profiles through the command line: ``profile check``, ``run --profile`` with SIGHUP, ``models push``."""

from __future__ import annotations

import asyncio
import shutil
import signal
from pathlib import Path as FsPath

from support import CLI, REPO, run_cli

from agent.core.formats import ContentFormat
from agent.models import shipped_models
from agent.simulator.emulator import Emulator, EmulatorSettings
from agent.simulator.lwm2m_server import LwM2MServer

SIMULATOR = REPO / "device_profiles" / "simulator.toml"


async def test_profile_check_prints_the_tree() -> None:
    code, out = await run_cli("profile", "check", str(SIMULATOR), "--simulate-hardware")
    assert code == 0, out
    for path in ("/3/0/0", "/3303/0/5700", "/6/0/0", "/3347/0", "/3311/0/5850", "/30000/0/5851"):
        assert path in out, f"{path} missing from:\n{out}"


async def test_profile_check_names_file_and_line_of_a_mistake(tmp_path: FsPath) -> None:
    bad = tmp_path / "bad.toml"
    text = SIMULATOR.read_text().replace('5701 = "Cel"', '5701 = "Cel"\n5799 = 1', 1)
    bad.write_text(text)
    line = text.splitlines().index("5799 = 1") + 1
    code, out = await run_cli("profile", "check", str(bad), "--simulate-hardware")
    assert code == 1
    assert f"bad.toml:{line}:" in out and "5799" in out and "fix" in out


async def test_profile_check_refuses_sim_ports_on_real_hardware() -> None:
    code, out = await run_cli("profile", "check", str(SIMULATOR))
    assert code == 1 and "sim:" in out


async def test_run_with_a_profile_and_reload_on_sighup(server: LwM2MServer, tmp_path: FsPath) -> None:
    profile = tmp_path / "device.toml"
    shutil.copy(SIMULATOR, profile)
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", "--profile", str(profile), "--simulate-hardware", "--server", server.uri,
        "--endpoint", "profiled", "--bind", "127.0.0.1", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        reg = await server.wait_registered("profiled", 20)
        assert "/30000/0" in reg.object_links and "/6/0" in reg.object_links
        value = await server.read("profiled", "/3303/0/5700", ContentFormat.TEXT)
        assert value.code == "2.05" and -10 <= float(value.text) <= 45
        # A broken profile on SIGHUP is refused: the agent keeps serving the old one.
        profile.write_text(profile.read_text() + "\n[objects.99999.0]\nsystem = 1\n")
        proc.send_signal(signal.SIGHUP)
        await asyncio.sleep(1.5)
        assert (await server.read("profiled", "/3/0/0", ContentFormat.TEXT)).code == "2.05"
        # A good one is taken: the object set changes (3200 dropped).
        text = SIMULATOR.read_text()
        cut = text.index("[objects.3200.0.resources]")
        profile.write_text(text[:cut] + text[text.index("# ---- Sigfox"):])
        proc.send_signal(signal.SIGHUP)
        await server.wait_for(lambda: server.is_registered("profiled")
                              and "/3200/0" not in server.registration("profiled").object_links, 15)
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert "reload refused" in err.decode()
        assert not server.is_registered("profiled")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_models_push_to_the_emulator() -> None:
    emulator = Emulator(shipped_models(), EmulatorSettings(api_port=0, lwm2m_port=0, bootstrap_port=0))
    await emulator.start()
    try:
        args = ("models", "push", "--profile", str(SIMULATOR), "--api", emulator.api_url,
                "--auth-key-id", emulator.settings.auth_key_id, "--auth-key", emulator.settings.auth_key)
        code, out = await run_cli(*args)
        assert code == 0, out
        assert "created object 30000" in out
        code, out = await run_cli(*args)
        assert code == 0 and "updated object 30000" in out
        bad = list(args)
        bad[bad.index("--auth-key") + 1] = "wrong"
        code, out = await run_cli(*bad)
        assert code == 1 and "401" in out
    finally:
        await emulator.close()
