"""``lwm2m-agent simulate`` with telemetry: within 20 s the emulator's API shows what the agent uploaded
through every destination of device_profiles/simulator.toml (Harvest Data and Files), and a Sigfox
downlink posted to the API changes the resource the profile maps it to."""

from __future__ import annotations

import asyncio
import json
import re
import time

import aiohttp
from test_simulate import start, stop

# Each destination of simulator.toml, by a key only its readings carry.
DESTINATION_KEYS = {"harvest": "temp", "harvest-tcp": "3303/1/5700", "harvest-udp": "counter",
                    "unified": "latitude", "unified-udp": "button", "publish": "presses"}


async def test_simulate_prints_ingest_ports_and_uploads_to_every_destination() -> None:
    started = time.monotonic()
    proc, p = await start()
    try:
        for label in ("Harvest Data:", "Unified Endpoint:", "Harvest Files:"):
            assert re.search(label + r"\s+http://127\.0\.0\.1:\d+/", p.text), p.text
        assert re.search(r"Harvest Data:.*TCP and UDP 127\.0\.0\.1:\d+", p.text)
        async with aiohttp.ClientSession(headers=p.headers) as http:
            seen: dict[str, dict] = {}
            while time.monotonic() - started < 20 and len(seen) < len(DESTINATION_KEYS) + 1:
                async with http.get(f"{p.api_url}/data/Device/{p.device_id}?limit=1000") as answer:
                    assert answer.status == 200
                    entries = await answer.json()
                for entry in entries:
                    content = json.loads(entry["content"])
                    for name, key in DESTINATION_KEYS.items():
                        if key in content and "id" in content:
                            seen[name] = {**content, "entry_time": entry["time"]}
                    # LwM2M Send reaches the Inventory, which files it as it files a notification.
                    if content.get("path") == "/30000/0" and "5852" in content.get("resources", {}):
                        seen["send"] = content
                await asyncio.sleep(0.5)
            async with http.get(f"{p.api_url}/files?scope=private&prefix=/&limit=100") as answer:
                assert answer.status == 200
                listed = [f["filePath"] for f in await answer.json() if not f["isDirectory"]]
        expected = {*DESTINATION_KEYS, "send"}
        assert set(seen) == expected, f"missing after 20 s: {expected - set(seen)}"
        assert listed and all(re.fullmatch(r"/lwm2m-agent/files/\d{8}T\d{6}Z\.csv", f) for f in listed), listed
        assert isinstance(seen["harvest"]["temp"], float) and isinstance(seen["harvest"]["time"], int)
        # Harvest over HTTP files the entry at the time the reading was taken.
        assert seen["harvest"]["entry_time"] == seen["harvest"]["time"]
    finally:
        await stop(proc)


async def test_a_sigfox_downlink_posted_to_the_api_changes_the_resource_the_profile_names() -> None:
    proc, p = await start()
    try:
        async with aiohttp.ClientSession(headers=p.headers) as http:
            async with http.get(f"{p.api_url}/sigfox_devices") as answer:
                sigfox_id = (await answer.json())[0]["device_id"]
            # simulator.toml: byte 0 bit 7 is the LED (/3311/0/5850), byte 1 the fan speed (/30000/0/5851).
            async with http.post(f"{p.api_url}/sigfox_devices/{sigfox_id}/data",
                                 json={"data": "8037000000000000"}) as answer:
                assert answer.status == 202
            speed = None
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and speed != 55:
                await asyncio.sleep(0.5)
                async with http.get(f"{p.api_url}/devices/{p.device_id}/30000/0/5851") as answer:
                    speed = (await answer.json()).get("value") if answer.status == 200 else None
            assert speed == 55, "the downlink set the fan speed"
            async with http.get(f"{p.api_url}/devices/{p.device_id}/3311/0/5850") as answer:
                assert (await answer.json())["value"] is True
            async with http.get(f"{p.api_url}/sigfox_devices/{sigfox_id}/data?limit=100") as answer:
                frames = [json.loads(e["content"]) for e in await answer.json()]
            assert any(f["ack"] for f in frames), "the uplink that fetched the downlink shows the acknowledgement"
    finally:
        await stop(proc)
