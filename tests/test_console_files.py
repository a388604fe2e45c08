"""The console's files as the emulator serves them over real HTTP, and as a wheel would ship them.

What the pages do is tested in a browser (test_console.py); here: the routes, the content types a
browser insists on for JavaScript modules, the shipped object models, and that pyproject's package data
covers every file (a wheel without ``pages/device.js`` would serve a blank console).
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from support import REPO
from yarl import URL

from agent.simulator.cloud import CloudConfig, CloudStore, RunningCloud, start_cloud
from agent.simulator.cloud.console import CONSOLE_DIR, console_url

JS_TYPES = ("text/javascript", "application/javascript", "application/x-javascript")


@pytest.fixture
async def cloud() -> AsyncIterator[RunningCloud]:
    running = await start_cloud(CloudConfig(), CloudStore())
    try:
        yield running
    finally:
        await running.close()


async def test_console_routes_serve_the_pages_without_opening_the_api(cloud: RunningCloud) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(cloud.api_url + "/", allow_redirects=False) as answer:
            assert answer.status == 302 and answer.headers["Location"] == "/console/"
        async with http.get(cloud.api_url + "/console/") as answer:
            assert answer.status == 200 and answer.content_type == "text/html"
            assert '<script type="module" src="app.js">' in await answer.text()
        for module in ("app.js", "pages/device.js", "vendor/uPlot.esm.js"):
            async with http.get(f"{cloud.api_url}/console/{module}") as answer:
                assert answer.status == 200 and answer.content_type in JS_TYPES, (module, answer.content_type)
        escape = URL(cloud.api_url + "/console/%2E%2E/console.py", encoded=True)
        async with http.get(escape) as answer:
            assert answer.status in (403, 404), "nothing outside the console's folder"
        async with http.get(cloud.api_url + "/v1/devices") as answer:
            assert answer.status == 401, "the pages are open, the API still needs its key and token"


async def test_objects_json_holds_the_shipped_models(cloud: RunningCloud) -> None:
    async with aiohttp.ClientSession() as http, http.get(cloud.api_url + "/console/objects.json") as answer:
        models = {model["objectId"]: model for model in await answer.json()}
    temperature = {r["id"]: r for r in models[3303]["resources"]}
    assert models[3303]["name"] == "Temperature"
    assert temperature[5700]["name"] == "Sensor Value" and temperature[5700]["type"] == "FLOAT"
    assert {r["id"]: r["operations"] for r in models[3]["resources"]}[4] == "E", "executables are known"


def test_console_url_carries_the_credentials_in_the_fragment() -> None:
    url = console_url("http://127.0.0.1:8080/v1", "api-1", "t/k+n", "coap://127.0.0.1:5683")
    assert url.startswith("http://127.0.0.1:8080/console/#")
    assert url.split("#", 1)[1] == "apiKey=api-1&token=t%2Fk%2Bn&server=coap%3A%2F%2F127.0.0.1%3A5683"


def test_package_data_ships_every_console_file() -> None:
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "agent.simulator.cloud"]
    package = CONSOLE_DIR.parent
    files = [path.relative_to(package).as_posix() for path in CONSOLE_DIR.rglob("*") if path.is_file()]
    assert "console_files/pages/device.js" in files
    missing = [name for name in files if not any(fnmatch.fnmatch(name, glob) for glob in globs)]
    assert missing == [], "add these to [tool.setuptools.package-data]"
    assert (CONSOLE_DIR / "vendor" / "uPlot.LICENSE").read_text().startswith("The MIT License")


def test_every_module_the_console_imports_is_there() -> None:
    for module in CONSOLE_DIR.rglob("*.js"):
        if "vendor" in module.parts:
            continue
        for target in re.findall(r'^import .* from "(\.{1,2}/[^"]+)";$', module.read_text(), re.MULTILINE):
            assert (module.parent / target).resolve().is_file(), f"{module.name} imports {target}"
