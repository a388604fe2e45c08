"""Harvest Files: the API's file operations under ``/v1/files`` and the device-side upload host.

A file is addressed by scope and absolute path (``/a/b.txt``); a path ending in ``/`` is a directory, which
putting a file creates and which is deleted explicitly once empty. ``private`` holds what devices and
the API upload; ``public`` (Soracom's shared files) is empty and read-only here. Downloading through the
API answers 302 to a short-lived link, as the real API redirects to its storage; the link needs no API
key, like a presigned URL. Devices use ``PUT``/``POST``/``GET`` on ``harvest-files.soracom.io/<path>``,
emulated by ``create_files_ingest_app``, with Soracom's limits: a path of at most 1,024 bytes and 16
levels, and a configurable size limit.
"""

from __future__ import annotations

import secrets
import time

from aiohttp import web
from yarl import URL

from agent.simulator.cloud.config import CloudConfig
from agent.simulator.cloud.context import CONFIG, STORE, config_of, store_of
from agent.simulator.cloud.errors import ApiError, bad_request, error_middleware, json_response, not_found
from agent.simulator.cloud.ingest import DEFAULT_CONTENT_TYPE, peer_of, resolve_source
from agent.simulator.cloud.params import int_param, next_page_headers
from agent.simulator.cloud.records import FileInfo, StoredFile
from agent.simulator.cloud.store import CloudStore

SCOPES = ("private", "public")
WRITABLE_SCOPE = "private"
PUBLIC_ROUTES = frozenset({"downloadFile"})


class DownloadLinks:
    """Short-lived tokens that stand in for the real API's presigned storage URLs."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._links: dict[str, tuple[str, str, float]] = {}

    def issue(self, scope: str, file_path: str) -> str:
        now = time.monotonic()
        self._links = {token: link for token, link in self._links.items() if link[2] > now}
        token = secrets.token_urlsafe(24)
        self._links[token] = (scope, file_path, now + self._ttl)
        return token

    def resolve(self, token: str) -> tuple[str, str] | None:
        link = self._links.get(token)
        if link is None or link[2] <= time.monotonic():
            return None
        return link[0], link[1]


DOWNLOAD_LINKS = web.AppKey("download_links", DownloadLinks)


def check_file_path(config: CloudConfig, file_path: str) -> str:
    """``file_path`` if it is a valid absolute file path within Harvest Files' limits, else 400."""
    if not file_path.startswith("/") or file_path.endswith("/") or file_path == "/":
        raise bad_request(f"{file_path!r} is not a file path (absolute, not ending in '/')")
    try:
        encoded = file_path.encode()
    except UnicodeEncodeError:
        raise bad_request("the file path is not valid Unicode text") from None
    if len(encoded) > config.files_max_path_bytes:
        raise bad_request(f"the file path is longer than {config.files_max_path_bytes} bytes")
    segments = file_path.split("/")[1:]
    if len(segments) > config.files_max_path_depth:
        raise bad_request(f"the file path has more than {config.files_max_path_depth} levels")
    if any(segment in ("", ".", "..") for segment in segments):
        raise bad_request(f"{file_path!r} has an empty, '.' or '..' segment")
    return file_path


def render_file(info: FileInfo) -> dict[str, object]:
    rendered: dict[str, object] = {
        "filePath": info.file_path,
        "filename": info.filename,
        "directory": info.directory,
        "isDirectory": info.is_directory,
        "createdTime": info.created_time,
        "lastModifiedTime": info.last_modified_time,
    }
    if not info.is_directory:
        rendered.update(contentLength=info.content_length, contentType=info.content_type, etag=info.etag)
    return rendered


def file_response(stored: StoredFile) -> web.Response:
    return web.Response(
        body=stored.content,
        headers={"Content-Type": stored.info.content_type, "ETag": f'"{stored.info.etag}"'},
    )


def _scope(request: web.Request, *, write: bool = False) -> str:
    scope = request.match_info.get("scope") or request.query.get("scope")
    if not scope:
        raise bad_request("query parameter scope is required")
    if scope not in SCOPES:
        raise not_found(f"scope {scope!r} does not exist")
    if write and scope != WRITABLE_SCOPE:
        raise bad_request(f"only the {WRITABLE_SCOPE} scope can be written")
    return scope


def _api_path(request: web.Request) -> str:
    """The absolute path named by ``/v1/files/{scope}/{path}``, trailing ``/`` kept (a directory).

    Leading slashes are dropped, so the root directory is ``/v1/files/private/`` or, with the path given
    as the spec's default ``/``, ``/v1/files/private///``.
    """
    return "/" + request.match_info["path"].lstrip("/")


async def _put(request: web.Request, scope: str, file_path: str) -> web.Response:
    config = config_of(request)
    content = await request.read()
    if len(content) > config.files_max_bytes:
        raise ApiError(413, "COM0006", f"the file is larger than {config.files_max_bytes} bytes")
    content_type = request.headers.get("Content-Type", DEFAULT_CONTENT_TYPE)
    _, created = store_of(request).put_file(scope, file_path, content, content_type)
    return web.Response(status=201 if created else 200)


def _stored(request: web.Request, scope: str, file_path: str) -> StoredFile:
    stored = store_of(request).get_file(scope, file_path)
    if stored is None:
        raise not_found(f"no such file: {file_path}")
    return stored


def _redirect(location: URL) -> web.Response:
    return web.Response(status=302, headers={"Location": str(location)})


# ---- API -------------------------------------------------------------------------------------------


async def find_files(request: web.Request) -> web.Response:
    scope = _scope(request)
    prefix = request.query.get("prefix")
    if prefix is None:
        raise bad_request("query parameter prefix is required")
    entries, next_key = store_of(request).find_files(
        scope,
        prefix,
        limit=int_param(request, "limit", 10, minimum=1) or 10,
        after=request.query.get("last_evaluated_key") or None,
    )
    return json_response([render_file(e) for e in entries], headers=next_page_headers(request, next_key))


async def get_file_or_list(request: web.Request) -> web.Response:
    scope, path = _scope(request), _api_path(request)
    store = store_of(request)
    if path.endswith("/"):
        entries, next_key = store.list_directory(
            scope,
            path,
            limit=int_param(request, "limit", 10, minimum=1) or 10,
            after=request.query.get("last_evaluated_key") or None,
        )
        return json_response([render_file(e) for e in entries], headers=next_page_headers(request, next_key))
    if store.get_file(scope, path) is None:
        if store.file_info(scope, path + "/") is not None:
            # A directory named without its slash: the real API redirects to listFiles.
            return _redirect(request.url.with_path(request.path + "/"))
        raise not_found(f"no such file: {path}")
    token = request.app[DOWNLOAD_LINKS].issue(scope, path)
    return _redirect(request.url.origin().join(URL(f"/_download/{token}")))


async def head_file(request: web.Request) -> web.Response:
    stored = _stored(request, _scope(request), _api_path(request))
    return file_response(stored)  # aiohttp sends the headers and Content-Length of a HEAD, not the body


async def put_file(request: web.Request) -> web.Response:
    scope = _scope(request, write=True)
    return await _put(request, scope, check_file_path(config_of(request), _api_path(request)))


async def delete_file_or_directory(request: web.Request) -> web.Response:
    scope, path = _scope(request, write=True), _api_path(request)
    store = store_of(request)
    if path.endswith("/"):
        store.delete_directory(scope, path)
    elif not store.delete_file(scope, path):
        raise not_found(f"no such file: {path}")
    return web.Response(status=204)


async def download(request: web.Request) -> web.Response:
    link = request.app[DOWNLOAD_LINKS].resolve(request.match_info["token"])
    if link is None:
        raise not_found("the download link is unknown or has expired")
    return file_response(_stored(request, *link))


def routes() -> list[web.RouteDef]:
    path_route = "/v1/files/{scope}/{path:.*}"
    return [
        web.get("/v1/files", find_files, name="findFiles"),
        web.get(path_route, get_file_or_list, name="getFile", allow_head=False),
        web.head(path_route, head_file, name="getFileMetadata"),
        web.put(path_route, put_file, name="putFile"),
        web.delete(path_route, delete_file_or_directory, name="deleteFile"),
        web.get("/_download/{token}", download, name="downloadFile"),
    ]


def setup(app: web.Application, config: CloudConfig) -> None:
    app[DOWNLOAD_LINKS] = DownloadLinks(config.download_link_ttl_seconds)


# ---- Device side -----------------------------------------------------------------------------------


def _device_path(request: web.Request) -> str:
    config = config_of(request)
    source = resolve_source(config, request.headers, peer_of(request))
    path = config.files_device_path_template.format(
        resource_type=source.resource_type, resource_id=source.resource_id, path=request.path
    )
    return check_file_path(config, path)


async def device_upload(request: web.Request) -> web.Response:
    return await _put(request, WRITABLE_SCOPE, _device_path(request))


async def device_download(request: web.Request) -> web.Response:
    return file_response(_stored(request, WRITABLE_SCOPE, _device_path(request)))


def create_files_ingest_app(config: CloudConfig, store: CloudStore) -> web.Application:
    """The device side: ``PUT``/``POST /<path>`` upload (201 new, 200 replaced), ``GET`` downloads."""
    app = web.Application(middlewares=[error_middleware], client_max_size=config.files_max_bytes + 1)
    app[CONFIG] = config
    app[STORE] = store
    app.router.add_put("/{path:.*}", device_upload)
    app.router.add_post("/{path:.*}", device_upload)
    app.router.add_get("/{path:.*}", device_download)
    return app
