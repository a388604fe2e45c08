"""What a server set survives a restart (SIGTERM, start again) and a profile reload (SIGHUP).

The agent runs as a user runs it (``lwm2m-agent run --state-dir``) before the local LwM2M server,
which writes a lifetime, attributes and a value, creates an instance and observes a resource. After
the restart or the reload, the server must see one Update of the same registration (no Register),
the same lifetime, attributes and instance, and notifications arriving on the observation it
already had -- the same token.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
from pathlib import Path as FsPath

from support import CLI, REPO

from agent.core.formats import ContentFormat
from agent.core.linkformat import parse_links
from agent.core.path import Path
from agent.core.values import ResourceValue
from agent.simulator.lwm2m_server import LwM2MServer

SIMULATOR = REPO / "device_profiles" / "simulator.toml"


async def _start(server: LwM2MServer, state: FsPath, endpoint: str, log: FsPath, *extra: str
                 ) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            *CLI, "run", "-v", "--server", server.uri, "--endpoint", endpoint, "--lifetime", "30",
            "--bind", "127.0.0.1", "--state-dir", str(state), *extra,
            stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL)


async def _set_up(server: LwM2MServer, endpoint: str, temperature: str, create: bool = True) -> object:
    """What a server does to a new device: lifetime, attributes, a value, an instance, an observation."""
    assert (await server.write(endpoint, "/1/0/1", 45, content_format=ContentFormat.TEXT)).code == "2.04"
    await server.wait_for(lambda: server.registration(endpoint).lifetime == 45, 10)
    assert (await server.write_attributes(endpoint, temperature, pmin=0, pmax=1)).code == "2.04"
    assert (await server.write(endpoint, "/3/0/15", "Asia/Tokyo", content_format=ContentFormat.TEXT)).ok
    if create:
        created = await server.create(endpoint, "/3303", [ResourceValue(Path(3303, 7, 5750), "attic")],
                                      content_format=ContentFormat.SENML_JSON)
        assert created.code == "2.01", created
    obs = await server.observe(endpoint, temperature, ContentFormat.TEXT)
    assert obs.notifying
    await obs.next(5)  # pmax 1: a notification every second
    return obs


async def _check_kept(server: LwM2MServer, endpoint: str, temperature: str, obs: object, location: str,
                      created: bool = True) -> None:
    reg = server.registration(endpoint)
    assert reg.location == location, "the same registration, updated, not a new one"
    assert reg.lifetime == 45
    assert (await server.read(endpoint, "/1/0/1", ContentFormat.TEXT)).text == "45"
    assert (await server.read(endpoint, "/3/0/15", ContentFormat.TEXT)).text == "Asia/Tokyo"
    if created:
        assert (await server.read(endpoint, "/3303/7/5750", ContentFormat.TEXT)).text == "attic"
    discovered = parse_links((await server.discover(endpoint, temperature)).text)
    attrs = next(link.attributes for link in discovered if link.target == temperature)
    assert (attrs.get("pmin"), attrs.get("pmax")) == ("0", "1"), discovered
    # The server's own observation (its token) gets notifications again.
    queue = obs.queue  # type: ignore[attr-defined]
    while not queue.empty():
        queue.get_nowait()
    note = await obs.next(8)  # type: ignore[attr-defined]
    assert note.code == "2.05" and -10 <= float(note.text) <= 45


async def test_restart_within_the_lifetime_keeps_what_the_server_set(server: LwM2MServer, tmp_path: FsPath) -> None:
    state, log, ep, temperature = tmp_path / "state", tmp_path / "agent.log", "keeper", "/3303/0/5700"
    registers: list[str] = []
    server.on_register.append(lambda reg: registers.append(reg.endpoint))
    # Simulated hardware: the timezone written below must not reach this machine's clock settings.
    proc = await _start(server, state, ep, log, "--simulate-hardware")
    try:
        await server.wait_registered(ep, 20)
        obs = await _set_up(server, ep, temperature)
        location, updates = server.registration(ep).location, server.registration(ep).updates
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0, log.read_text()[-2000:]
        assert server.is_registered(ep), "SIGTERM with a state directory keeps the registration"
        proc = await _start(server, state, ep, log, "--simulate-hardware")
        await server.wait_for(lambda: server.registration(ep).updates > updates, 20)
        await _check_kept(server, ep, temperature, obs, location)
        assert registers == [ep], "one Register in all: the restart resumed with an Update"
        text = log.read_text()
        assert "resuming registration" in text and "resumed 1 observations" in text, text[-3000:]
        # And a reload of the built-in object set keeps the created instance too.
        updates = server.registration(ep).updates
        proc.send_signal(signal.SIGHUP)
        await server.wait_for(lambda: server.registration(ep).updates > updates, 15)
        await _check_kept(server, ep, temperature, obs, location)
        assert registers == [ep]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_sighup_reload_keeps_the_registration_and_updates_new_links(server: LwM2MServer,
                                                                          tmp_path: FsPath) -> None:
    profile, log, ep, temperature = tmp_path / "device.toml", tmp_path / "agent.log", "reloader", "/3303/0/5700"
    shutil.copy(SIMULATOR, profile)
    registers: list[str] = []
    server.on_register.append(lambda reg: registers.append(reg.endpoint))
    proc = await _start(server, tmp_path / "state", ep, log, "--profile", str(profile), "--simulate-hardware")
    try:
        await server.wait_registered(ep, 20)
        assert "/3200/0" in server.registration(ep).object_links
        # A profile's objects take no Create (its instances are the hardware's).
        obs = await _set_up(server, ep, temperature, create=False)
        location = server.registration(ep).location
        # Same objects: the reload is invisible to the server but for one Update.
        updates = server.registration(ep).updates
        proc.send_signal(signal.SIGHUP)
        await server.wait_for(lambda: server.registration(ep).updates > updates, 15)
        await _check_kept(server, ep, temperature, obs, location, created=False)
        # Fewer objects: the Update carries the new links; still no Register.
        text = SIMULATOR.read_text()
        cut = text.index("[objects.3200.0.resources]")
        profile.write_text(text[:cut] + text[text.index("# ---- Sigfox"):])
        proc.send_signal(signal.SIGHUP)
        await server.wait_for(lambda: "/3200/0" not in server.registration(ep).object_links, 15)
        await _check_kept(server, ep, temperature, obs, location, created=False)
        assert registers == [ep], log.read_text()[-3000:]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
