"""The web console: static pages on the API port that a browser uses to drive the emulator's own API.

The console is plain HTML, CSS and JavaScript modules kept beside this module (``console_files/``, package
data); it has no server side of its own. Every device, value and data entry it shows comes from the
``/v1`` API with the API key and token of ``POST /v1/auth``, exactly as curl would get them, so what a
person sees in the browser is what the API answers. The pages themselves need no credentials: they hold
none, and the URL that ``lwm2m-agent simulate`` prints carries the key and token in its fragment, which a
browser never sends to a server.

The one thing served besides the files is ``objects.json``: the object models this package ships (the
OMA objects under ``objects/`` and the shipped custom ones), in the JSON form of ``agent.models``. The real
console knows the OMA registry in the same way; without it the console could name only the resources a
device answered a read with, and could not offer an Execute that a read never shows. Models an operator
uploads come through the API (``?model=true`` reads name their resources).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import web

from agent.models import dump_json, shipped_models

CONSOLE_DIR = Path(__file__).with_name("console_files")
CONSOLE_PATH = "/console/"


@cache
def _shipped_models_json() -> bytes:
    models = shipped_models().models
    return json.dumps([dump_json(models[object_id]) for object_id in sorted(models)]).encode()


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(CONSOLE_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def _to_console(request: web.Request) -> web.Response:
    raise web.HTTPFound(CONSOLE_PATH)


async def _objects(request: web.Request) -> web.Response:
    return web.Response(body=_shipped_models_json(), content_type="application/json",
                        headers={"Cache-Control": "no-cache"})


def routes() -> list[web.AbstractRouteDef]:
    """``/`` and ``/console`` lead to the console; its files are under ``/console/``."""
    return [
        web.get("/", _to_console, name="consoleRoot"),
        web.get("/console", _to_console, name="consoleNoSlash"),
        web.get(CONSOLE_PATH, _index, name="consoleIndex"),
        web.get(CONSOLE_PATH + "objects.json", _objects, name="consoleObjects"),
        web.static(CONSOLE_PATH, CONSOLE_DIR, name="consoleFiles", append_version=False),
    ]


def console_url(api_base_url: str, api_key: str, token: str, lwm2m_server: str | None = None) -> str:
    """The console's address for an API base URL (``http://host:port/v1``), logged in by its fragment.

    ``lwm2m_server`` goes along (it is no secret) so that the console can print the exact
    ``lwm2m-agent run`` line for a device created in it: the API does not say where its LwM2M server is.
    """
    origin = api_base_url.removesuffix("/").removesuffix("/v1")
    fragment = {"apiKey": api_key, "token": token}
    if lwm2m_server:
        fragment["server"] = lwm2m_server
    return f"{origin}{CONSOLE_PATH}#{urlencode(fragment)}"
