"""The Soracom API app of the cloud emulator: every ``/v1`` operation the agent's world needs.

``create_app`` assembles the route table of each service module (auth, Harvest Data, Harvest Files,
Sigfox; and the web console's pages, outside ``/v1``) behind two middlewares: errors in the API's shape,
then the API key/token check. Inventory and
Batch operations come from the LwM2M server side later; they plug in through ``inventory``, any object
with a ``routes()`` method, so this module does not need to know them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from aiohttp import web

from agent.simulator.cloud import auth, console, files, harvest, sigfox
from agent.simulator.cloud.config import CloudConfig
from agent.simulator.cloud.context import CONFIG, STORE
from agent.simulator.cloud.errors import error_middleware
from agent.simulator.cloud.store import CloudStore

_MIN_BODY_BYTES = 1024 * 1024


class InventoryRoutes(Protocol):
    """What the Inventory (and Batch) service hands the API app: more ``/v1`` routes, all behind auth.

    Its routes must not shadow ``/v1/devices/{device_id}/data`` and ``/v1/devices/{device_id}/publish``,
    which Harvest registers first.
    """

    def routes(self) -> Iterable[web.AbstractRouteDef]: ...


def create_app(
    config: CloudConfig, store: CloudStore, inventory: InventoryRoutes | None = None
) -> web.Application:
    """The API host (``api.soracom.io``) as an aiohttp app; run it with ``start_cloud`` or any runner."""
    public_routes = auth.PUBLIC_ROUTES | harvest.PUBLIC_ROUTES | files.PUBLIC_ROUTES
    app = web.Application(
        middlewares=[error_middleware, auth.auth_middleware(public_routes)],
        client_max_size=max(config.files_max_bytes + 1, _MIN_BODY_BYTES),
    )
    app[CONFIG] = config
    app[STORE] = store
    harvest.setup(app, config)
    files.setup(app, config)
    app.add_routes([*auth.routes(), *harvest.routes(), *files.routes(), *sigfox.routes()])
    app.add_routes(console.routes())
    if inventory is not None:
        app.add_routes(inventory.routes())
    return app
