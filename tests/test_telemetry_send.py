"""LwM2M Send from the durable queue to a real LwM2M server over loopback UDP: readings carry their time,
wait while the client is not registered, and arrive in order once it is."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path as FsPath

import cbor2
from support import ENDPOINT, agent_models, build_tree, client_settings

from agent.client.agent import LwM2MClient
from agent.core.codecs import decoder_for
from agent.core.formats import ContentFormat
from agent.core.path import Path
from agent.daemon.telemetry import start_telemetry
from agent.simulator.lwm2m_server import LwM2MServer
from agent.telemetry.queue import TelemetryQueue
from agent.telemetry.send import senml_reading
from agent.telemetry.settings import DestinationSettings, TelemetrySettings

COUNTER = Path(32769, 0, 1)  # a writable integer of the test object


async def test_a_reading_is_senml_cbor_with_its_time_as_base_time() -> None:
    encode = senml_reading([("n", COUNTER), ("t", Path(32769, 0, 3))], agent_models(), clock=lambda: 1746100800.25)
    payload = await encode({"n": 7, "t": 21.5})
    assert payload is not None
    records = cbor2.loads(payload)
    assert records[0][-3] == 1746100800.25  # bt
    values = decoder_for(ContentFormat.SENML_CBOR).decode(payload, Path(), agent_models())
    assert [(v.path, v.value) for v in values] == [(COUNTER, 7), (Path(32769, 0, 3), 21.5)]


async def test_send_readings_wait_for_registration_and_arrive_in_order(tmp_path: FsPath) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uri = f"coap://127.0.0.1:{port}"
    tree = build_tree(uri)
    client = LwM2MClient(tree, client_settings(uri, lwm2m_version="1.1"))
    await client.start()
    queue = TelemetryQueue.in_state_dir(tmp_path)
    tree.instance(COUNTER).resources[1].set(0)  # type: ignore[attr-defined]
    dest = DestinationSettings(name="send", transport="lwm2m_send", resources=(("n", COUNTER),), interval=3600)
    service = await start_telemetry(TelemetrySettings((dest,)), tree, client, queue)
    server = LwM2MServer(agent_models(), host="127.0.0.1", port=port)
    try:
        sampler = service.samplers["send"]
        await asyncio.sleep(0.1)  # the sampler takes its first reading (0) at start
        for n in range(1, 6):
            tree.instance(COUNTER).resources[1].set(n)  # type: ignore[attr-defined]
            await sampler.sample()
        await asyncio.sleep(0.5)
        assert queue.depth("send") == 6  # nobody to send to yet: they wait
        await server.start()
        await server.wait_registered(ENDPOINT, 20)
        async with asyncio.timeout(20):
            while queue.depth("send"):
                await asyncio.sleep(0.05)
        sent = [values[0].value for endpoint, values in server.sent if endpoint == ENDPOINT]
        assert sent == [0, 1, 2, 3, 4, 5]
    finally:
        await service.close()
        await queue.close()
        await client.stop(deregister=False)
        await server.stop()
