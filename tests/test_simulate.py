"""``lwm2m-agent simulate`` as a user runs it: a subprocess driven only through what it prints."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
from dataclasses import dataclass

import aiohttp
import pytest
from support import CLI as AGENT_CLI

CLI = [*AGENT_CLI, "simulate", "--api-port", "0", "--lwm2m-port", "0", "--bootstrap-port", "0", "--harvest-port", "0",
       "--harvest-socket-port", "0", "--unified-port", "0", "--unified-socket-port", "0", "--files-port", "0"]


@dataclass
class Printed:
    api_url: str
    api_key: str
    token: str
    device_id: str
    curls: list[str]
    text: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Soracom-API-Key": self.api_key, "X-Soracom-Token": self.token}


async def start(*extra: str, more_lines: int = 0) -> tuple[asyncio.subprocess.Process, Printed]:
    proc = await asyncio.create_subprocess_exec(*CLI, *extra, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    lines: list[str] = []
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        if not line:
            _, err = await proc.communicate()
            raise AssertionError(f"simulate exited early: {''.join(lines)} {err.decode()[-2000:]}")
        lines.append(line)
        if line.startswith("Try"):
            break
    for _ in range(6 + more_lines):
        lines.append((await asyncio.wait_for(proc.stdout.readline(), 10)).decode())
    text = "".join(lines)

    def find(pattern: str) -> str:
        match = re.search(pattern, text)
        assert match, f"{pattern!r} not in:\n{text}"
        return match.group(1)

    printed = Printed(
        api_url=find(r"API base URL:\s+(\S+)"), api_key=find(r"API key:\s+(\S+)"), token=find(r"API token:\s+(\S+)"),
        device_id=find(r"device (d-\w+)"), curls=[ln.strip() for ln in lines if ln.strip().startswith("curl")],
        text=text,
    )
    return proc, printed


async def stop(proc: asyncio.subprocess.Process, sig: int = signal.SIGINT) -> str:
    proc.send_signal(sig)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]
    return out.decode()


async def test_inventory_flow_through_the_printed_api() -> None:
    proc, p = await start()
    try:
        async with aiohttp.ClientSession(headers=p.headers) as http:
            async def call(method: str, path: str, body: object = None) -> tuple[int, object]:
                async with http.request(method, p.api_url + path, json=body) as answer:
                    text = await answer.text()
                    return answer.status, json.loads(text) if text else None

            status, devices = await call("GET", "/devices")
            assert status == 200 and [d["device_id"] for d in devices] == [p.device_id]  # type: ignore[union-attr]
            status, device = await call("GET", f"/devices/{p.device_id}/3/0")
            assert status == 200 and isinstance(device, dict)
            status, _ = await call("PUT", f"/devices/{p.device_id}/3/0/14", {"value": "+09:00"})
            assert status == 202
            status, offset = await call("GET", f"/devices/{p.device_id}/3/0/14")
            assert status == 200 and offset["value"] == "+09:00"  # type: ignore[index]
            status, _ = await call("POST", f"/devices/{p.device_id}/30000/0/26242/execute", {})
            assert status == 202
            # The simulated Sigfox modem is a Sigfox device, and its first uplink is Harvest data.
            status, sigfox = await call("GET", "/sigfox_devices")
            assert status == 200 and len(sigfox) == 1  # type: ignore[arg-type]
            sigfox_id = sigfox[0]["device_id"]  # type: ignore[index]
            uplinks: list[object] = []
            for _ in range(50):
                _, uplinks = await call("GET", f"/data/SigfoxDevice/{sigfox_id}")  # type: ignore[assignment]
                if uplinks:
                    break
                await asyncio.sleep(0.2)
            assert uplinks, "the first uplink reaches Harvest Data"
            status, _ = await call("POST", f"/devices/{p.device_id}/3303/0/5700/observe")
            assert status in (200, 202)
            async def notified() -> list[object]:
                # The device's Harvest Data also holds the agent's own telemetry uploads (with an id).
                _, entries = await call("GET", f"/devices/{p.device_id}/data?limit=1000")
                return [e for e in entries if "id" not in json.loads(e["content"])]  # type: ignore[union-attr,index]

            entries: list[object] = []
            for _ in range(50):
                await asyncio.sleep(0.2)
                entries = await notified()
                if len(entries) >= 3:
                    break
            assert len(entries) >= 3, "the moving temperature is notified into Harvest Data"
            status, _ = await call("POST", f"/devices/{p.device_id}/3303/0/5700/unobserve")
            assert status == 204
            await asyncio.sleep(0.5)
            before = await notified()
            await asyncio.sleep(2.5)
            after = await notified()
            assert len(after) == len(before), "no notifications after unobserve"
    finally:
        out = await stop(proc)
    assert "stopped" in out


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_printed_curl_commands_work_as_printed() -> None:
    proc, p = await start()
    try:
        assert len(p.curls) == 3
        outputs = []
        for command in p.curls:
            shell = await asyncio.create_subprocess_exec("bash", "-c", command + " -w ' HTTP %{http_code}'",
                                                         stdout=asyncio.subprocess.PIPE)
            out, _ = await asyncio.wait_for(shell.communicate(), 30)
            outputs.append(out.decode())
        read, write, observe = outputs
        assert read.endswith("HTTP 200") and '"value"' in read
        assert write.endswith("HTTP 202")
        assert observe.endswith("HTTP 200") and '"resourceType":"Device"' in observe.replace(" ", "")
    finally:
        await stop(proc, signal.SIGTERM)


async def test_a_fleet_of_agents() -> None:
    proc, p = await start("--devices", "5", "--no-bootstrap")
    try:
        assert "5 agents registered" in p.text
        async with aiohttp.ClientSession(headers=p.headers) as http, http.get(p.api_url + "/devices") as answer:
            devices = await answer.json()
        assert len(devices) == 5 and all(d["online"] for d in devices)
    finally:
        await stop(proc)


async def test_state_file_keeps_devices_and_data_across_restarts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = str(tmp_path / "cloud.sqlite")
    proc, first = await start("--state", state)
    try:
        async with aiohttp.ClientSession(headers=first.headers) as http, \
                http.get(f"{first.api_url}/sigfox_devices") as answer:
            assert answer.status == 200
    finally:
        await stop(proc)
    proc, second = await start("--state", state)
    try:
        assert second.device_id == first.device_id, "the same endpoint is the same Inventory device"
        async with aiohttp.ClientSession(headers=second.headers) as http:
            async with http.get(f"{second.api_url}/devices") as answer:
                assert [d["device_id"] for d in await answer.json()] == [first.device_id]
            async with http.get(f"{second.api_url}/sigfox_devices") as answer:
                sigfox = await answer.json()
            async with http.get(f"{second.api_url}/data/SigfoxDevice/{sigfox[0]['device_id']}") as answer:
                assert len(await answer.json()) >= 1, "uplinks stored before the restart are still there"
    finally:
        await stop(proc)


async def test_psk_agents_and_an_own_agent_connect_over_dtls_as_printed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc, p = await start("--security", "psk", more_lines=5)
    agent: asyncio.subprocess.Process | None = None
    try:
        server = re.search(r"LwM2M server:\s+(coaps://\S+) \(DTLS PSK", p.text)
        assert server, p.text
        # The simulated agent bootstrapped to the DTLS server: its device is online.
        async with aiohttp.ClientSession(headers=p.headers) as http:
            async with http.get(f"{p.api_url}/devices/{p.device_id}") as answer:
                assert (await answer.json())["online"] is True
            # Follow the printed instructions for an agent of one's own.
            [create] = [c for c in p.curls if "-d '{\"endpoint\":\"my-agent\"}'" in c]
            shell = await asyncio.create_subprocess_exec("bash", "-c", create, stdout=asyncio.subprocess.PIPE)
            out, _ = await asyncio.wait_for(shell.communicate(), 30)
            created = json.loads(out)
            key_file = tmp_path / "my-agent.key"
            key_file.write_text(created["secretKey"] + "\n")
            key_file.chmod(0o600)
            [run] = [ln.strip() for ln in p.text.splitlines() if ln.strip().startswith("lwm2m-agent run")]
            args = run.replace("DEVICE_ID", created["device_id"]).replace("my-agent.key", str(key_file)).split()
            assert args[:4] == ["lwm2m-agent", "run", "--server", server.group(1)]
            agent = await asyncio.create_subprocess_exec(*AGENT_CLI, *args[1:], "--bind", "127.0.0.1",
                                                         stdout=asyncio.subprocess.DEVNULL,
                                                         stderr=asyncio.subprocess.DEVNULL)
            device_url = f"{p.api_url}/devices/{created['device_id']}"
            for _ in range(200):
                async with http.get(device_url) as answer:
                    if (await answer.json())["online"]:
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the own agent never came online")
            async with http.get(device_url + "/3/0/0") as answer:
                assert answer.status == 200 and "value" in await answer.json()
    finally:
        if agent is not None and agent.returncode is None:
            agent.send_signal(signal.SIGINT)
            await asyncio.wait_for(agent.wait(), 30)
        await stop(proc)


async def test_a_psk_fleet_without_bootstrap() -> None:
    proc, p = await start("--devices", "3", "--no-bootstrap", "--security", "psk", more_lines=5)
    try:
        assert "3 agents registered" in p.text and "coaps://" in p.text
        async with aiohttp.ClientSession(headers=p.headers) as http, http.get(p.api_url + "/devices") as answer:
            devices = await answer.json()
        assert len(devices) == 3 and all(d["online"] for d in devices)
    finally:
        await stop(proc)
