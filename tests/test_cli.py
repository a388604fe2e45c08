"""The ``lwm2m-agent`` command as a user runs it: a real subprocess against a real server."""

from __future__ import annotations

import asyncio
import signal

import pytest
from support import CLI, OMA_REGISTRY, REPO, run_cli

from agent.core.formats import ContentFormat
from agent.simulator.lwm2m_server import LwM2MServer


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_run_registers_serves_and_deregisters_on_signal(server: LwM2MServer, sig: int) -> None:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", "--server", server.uri, "--endpoint", "cli-device", "--lifetime", "30", "--bind", "127.0.0.1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        reg = await server.wait_registered("cli-device", 15)
        assert reg.lifetime == 30
        assert {"/1/0", "/3/0", "/3303/0"} <= set(reg.object_links)
        manufacturer = await server.read("cli-device", "/3/0/0", ContentFormat.TEXT)
        assert manufacturer.code == "2.05" and manufacturer.text
        temperature = await server.read("cli-device", "/3303/0/5700", ContentFormat.TEXT)
        assert temperature.code == "2.05" and -10 <= float(temperature.text) <= 45
        proc.send_signal(sig)
        _, stderr = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == 0, stderr.decode()
        assert not server.is_registered("cli-device"), "de-registered before exiting"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_objects_validate_the_oma_registry() -> None:
    code, out = await run_cli("objects", "validate", str(OMA_REGISTRY))
    last = out.strip().splitlines()[-1]
    loaded = int(last.split()[0])
    assert code == 0, out[-2000:]
    assert last.endswith("loaded, 0 refused") and loaded > 700


async def test_objects_validate_without_a_path_checks_the_shipped_models() -> None:
    code, out = await run_cli("objects", "validate")
    shipped = [path for path in (REPO / "objects").rglob("*") if path.suffix in (".xml", ".json")]
    assert code == 0, out
    assert out.strip().splitlines() == [f"{len(shipped)} loaded, 0 refused"]


async def test_objects_validate_reports_a_bad_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.json"
    good.write_text('{"objectId": 30001, "name": "Fan", "resources": [{"id": 0, "name": "Speed", '
                    '"operations": "RW", "type": "INTEGER"}]}')
    bad = tmp_path / "bad.xml"
    bad.write_text("<LWM2M><Object><Name>x</Name></LWM2M>")
    code, out = await run_cli("objects", "validate", str(tmp_path))
    lines = out.strip().splitlines()
    assert code == 1
    assert lines[-1] == "1 loaded, 1 refused"
    assert "bad.xml" in lines[0]


async def test_run_speaks_the_systemd_notify_protocol(server: LwM2MServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Type=notify: READY once serving, STATUS once registered, WATCHDOG pings, STOPPING on SIGTERM."""
    import os
    import socket

    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"}
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", "--server", server.uri, "--endpoint", "notified", "--bind", "127.0.0.1", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    loop = asyncio.get_running_loop()
    messages: list[str] = []

    async def until(text: str, timeout: float = 15.0) -> None:
        deadline = loop.time() + timeout
        while not any(text in m for m in messages):
            remaining = deadline - loop.time()
            assert remaining > 0, f"no {text!r} in {messages}"
            data = await asyncio.wait_for(loop.sock_recv(sock, 4096), remaining)
            messages.append(data.decode())

    try:
        await until("READY=1")
        await until("STATUS=registered as notified")
        pings = sum("WATCHDOG=1" in m for m in messages)
        await asyncio.sleep(0.5)
        await until("WATCHDOG=1")
        while True:  # drain what came during the sleep
            try:
                messages.append(sock.recv(4096).decode())
            except BlockingIOError:
                break
        assert sum("WATCHDOG=1" in m for m in messages) >= pings + 3, "pinged every 100 ms"
        proc.send_signal(signal.SIGTERM)
        await until("STOPPING=1")
        _, err = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == 0, err.decode()
    finally:
        sock.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("uri", ["garbage", "http://127.0.0.1:5683", "coap://", "coap://host:0"])
async def test_run_refuses_a_server_uri_it_cannot_register_to(uri: str) -> None:
    code, out = await run_cli("run", "--server", uri)
    assert code == 2, out
    assert "Invalid value for '--server'" in out and ("coap://127.0.0.1:5683" in out or ":5683" in out)


async def test_a_bootstrap_uri_is_checked_too() -> None:
    code, out = await run_cli("run", "--bootstrap", "udp://bs:5683")
    assert code == 2 and "Invalid value for '--bootstrap'" in out
