"""Shared fixtures: a real LwM2M server and a real agent, talking over loopback UDP."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator

import pytest
from hypothesis import settings
from support import ENDPOINT, agent_models, build_tree, client_settings

from agent.client.agent import LwM2MClient
from agent.simulator.lwm2m_server import LwM2MServer

# CI runs on a busy 2-core machine with no example database: fixed examples and no per-example
# deadline keep a landing from depending on the draw; developers' runs keep exploring.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
async def server() -> AsyncIterator[LwM2MServer]:
    srv = LwM2MServer(agent_models(), host="127.0.0.1", port=0, request_timeout=5.0)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def agent(server: LwM2MServer) -> AsyncIterator[LwM2MClient]:
    tree = build_tree(server.uri)
    client = LwM2MClient(tree, client_settings(server.uri))
    await client.start()
    await server.wait_registered(ENDPOINT)
    try:
        yield client
    finally:
        await client.stop(deregister=False)


@pytest.fixture
def python() -> str:
    return sys.executable
