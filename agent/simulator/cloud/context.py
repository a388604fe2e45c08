"""The application keys under which route handlers find the emulator's settings and state.

aiohttp's typed ``AppKey``s keep handlers free of globals: every app built by ``create_app`` or an ingest
factory carries its own config and store, so several emulators can run in one process (one per test).
"""

from __future__ import annotations

from aiohttp import web

from agent.simulator.cloud.config import CloudConfig
from agent.simulator.cloud.store import CloudStore

CONFIG = web.AppKey("cloud_config", CloudConfig)
STORE = web.AppKey("cloud_store", CloudStore)


def config_of(request: web.Request) -> CloudConfig:
    return request.app[CONFIG]


def store_of(request: web.Request) -> CloudStore:
    return request.app[STORE]
