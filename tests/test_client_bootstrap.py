"""Client-initiated bootstrap against the Soracom-like local bootstrap server, then registration."""

from __future__ import annotations

import stat
from pathlib import Path as FsPath

from support import ENDPOINT, agent_models, build_tree, client_settings

from agent.client.account import server_account
from agent.client.agent import LwM2MClient
from agent.core.formats import ContentFormat
from agent.simulator.bootstrap_server import BootstrapServer, BootstrapSettings
from agent.simulator.lwm2m_server import LwM2MServer
from agent.tree import StoredValue

KEY = bytes(range(16))


async def provision(endpoint: str) -> tuple[str, bytes]:
    return "d-" + (endpoint.replace("-", "") + "x" * 20)[:20], KEY


async def start_bootstrap(server: LwM2MServer) -> BootstrapServer:
    bs = BootstrapServer(agent_models(), BootstrapSettings(dm_server_uri=server.uri, lifetime=45), provision)
    await bs.start()
    return bs


async def test_bootstrap_then_register(server: LwM2MServer, tmp_path: FsPath) -> None:
    bs = await start_bootstrap(server)
    tree = build_tree("coap://unused.invalid:5683")
    settings = client_settings("coap://unused.invalid:5683")
    settings.bootstrap_uri = bs.uri
    settings.state_dir = tmp_path / "state"
    client = LwM2MClient(tree, settings)
    await client.start()
    try:
        record = await bs.wait_finished(ENDPOINT, 10)
        assert record.finished, record.error
        assert [code for _, code in record.steps] == ["2.02", "2.04", "2.04", "2.04"]
        reg = await server.wait_registered(ENDPOINT, 10)
        assert reg.lifetime == 45
        account = server_account(tree)
        assert account.identity == record.device_id.encode() and account.secret_key == KEY
        assert "KEY" not in repr(account) and repr(KEY) not in repr(account)
        # The Security object stays hidden from the DM server after bootstrap.
        assert (await server.read(ENDPOINT, "/0/1", ContentFormat.TLV)).code == "4.01"
        # Saved with owner-only permissions, key included, for the next start.
        saved = settings.state_dir / "tree.json"
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        assert stat.S_IMODE(settings.state_dir.stat().st_mode) == 0o700
    finally:
        await client.stop()
    # A restart reuses the saved account: it registers without asking the bootstrap server again.
    await bs.stop()
    tree2 = build_tree("coap://unused.invalid:5683")
    client2 = LwM2MClient(tree2, settings)
    await client2.start()
    try:
        await client2.wait_registered(5)
        assert server.is_registered(ENDPOINT)
    finally:
        await client2.stop()


async def test_force_bootstrap_discards_saved_state(server: LwM2MServer, tmp_path: FsPath) -> None:
    bs = await start_bootstrap(server)
    try:
        settings = client_settings("coap://unused.invalid:5683")
        settings.bootstrap_uri = bs.uri
        settings.state_dir = tmp_path
        (tmp_path / "tree.json").write_text(
            '{"version": 1, "server_uri": "coap://stale.invalid:1", "bootstrapped": true, "accounts": '
            '{"0": {"1": {"0": "coap://stale.invalid:1", "1": false, "10": 9}}, "1": {"0": {"0": 9, "1": 30}}}}')
        settings.force_bootstrap = True
        client = LwM2MClient(build_tree("coap://unused.invalid:5683"), settings)
        await client.start()
        try:
            record = await bs.wait_finished(ENDPOINT, 10)
            assert record.finished
            await server.wait_registered(ENDPOINT, 10)
        finally:
            await client.stop()
    finally:
        await bs.stop()


async def test_bootstrap_delete_keeps_hardware_objects(server: LwM2MServer) -> None:
    bs = await start_bootstrap(server)
    try:
        tree = build_tree("coap://unused.invalid:5683")
        settings = client_settings("coap://unused.invalid:5683")
        settings.bootstrap_uri = bs.uri
        client = LwM2MClient(tree, settings)
        await client.start()
        try:
            await server.wait_registered(ENDPOINT, 10)
            assert sorted(tree.objects[0].instances) == [1] and sorted(tree.objects[1].instances) == [0]
            assert 0 in tree.objects[3].instances and 0 in tree.objects[3303].instances
            lifetime = tree.objects[1].instances[0].resources[1]
            assert isinstance(lifetime, StoredValue) and lifetime.value == 45
            # The DM server may not touch the Security object written by bootstrap.
            refused = await server.write(ENDPOINT, "/0/1/0", "coap://x", content_format=ContentFormat.TEXT)
            assert refused.code == "4.01"
        finally:
            await client.stop()
    finally:
        await bs.stop()


def test_bootstrap_discover_lists_accounts_with_ssid_and_uri() -> None:
    from agent.client.defaults import security_instance
    from agent.client.session import ServerSession
    from agent.core.linkformat import format_links, parse_links
    from agent.core.path import Path

    tree = build_tree("coap://dm.example:5683")
    tree.add_instance(0, security_instance("coap://bs.example:5683", iid=7, bootstrap=True))
    text = format_links(ServerSession(tree=tree, lwm2m_version="1.0").bootstrap_discover_links(Path()))
    links = {link.target: link.attributes for link in parse_links(text)}
    assert links["/"] == {"lwm2m": "1.0"}
    assert links["/0/0"] == {"ssid": "123", "uri": "coap://dm.example:5683"}
    assert links["/0/7"] == {"uri": "coap://bs.example:5683"}, "the bootstrap account has no ssid"
    assert links["/1/0"] == {"ssid": "123"} and links["/3/0"] == {}
