"""The ``[telemetry.NAME]`` tables of a profile: where readings go, what they hold, how much may wait.

Each table is one destination with its own queue line, retry and limits; the keys are documented in
``agent/profiles/README.md``. This module checks them (with the file, line and fix of every mistake) and
builds :class:`agent.telemetry.settings.TelemetrySettings`: the profile code builds telemetry's settings,
and telemetry never imports the profile code.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from typing import Any

from ..core.model import ResourceModel
from ..core.path import Path as LwPath
from ..telemetry.settings import (
    JSON_TRANSPORTS,
    TRANSPORTS,
    DestinationSettings,
    FileSource,
    QueueLimits,
    TelemetrySettings,
)
from .errors import Where, did_you_mean, toml_text
from .kinds import Param, check_params
from .spec import ServerProfile

ResolveResource = Callable[[object, Where], tuple[LwPath, ResourceModel]]

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DEFAULT_LIMITS = QueueLimits()
_PARAMS: dict[str, Param] = {
    "transport": Param("str", True, 'transport = "harvest_http"'),
    "resources": Param("value", example='resources = ["/3303/0/5700"] or { temp = "/3303/0/5700" }'),
    "keys": Param("str", example='keys = "names"'),
    "interval": Param("number", example="interval = 60"),
    "url": Param("str", example='url = "http://harvest.soracom.io/"'),
    "id_key": Param("str"), "time_key": Param("str"),
    "max_rows": Param("int", example="max_rows = 100000"),
    "max_bytes": Param("int", example="max_bytes = 67108864"),
    "max_age": Param("number", example="max_age = 604800"),
    "retry_initial": Param("number"), "retry_max": Param("number"),
    "device_id": Param("str"), "device_secret": Param("str"),
    "path": Param("str", example='path = "/logs/{name}/{datetime}.csv"'),
    "file": Param("str", example='file = "/var/log/syslog"'),
    "command": Param("argv", example='command = ["vcgencmd", "measure_temp"]'),
    "content_type": Param("str", example='content_type = "text/plain"'),
}
_ONLY_FOR = {"device_id": ("publish",), "device_secret": ("publish",), "path": ("files",), "file": ("files",),
             "command": ("files",), "content_type": ("files",)}
_KEY_STYLES = ("names", "ids")


def load_telemetry(raw: dict[str, Any], where: Where, resource: ResolveResource, server: ServerProfile,
                   lwm2m_version: str) -> TelemetrySettings:
    """The destinations of a ``[telemetry]`` table; ``resource`` resolves a served, readable resource."""
    destinations = []
    for name, table in raw.items():
        dw = where.at(name)
        if not _NAME.fullmatch(name):
            raise dw.error(f"{name!r} is not a destination name", "use letters, digits, - and _ (e.g. harvest)")
        if not isinstance(table, dict):
            raise dw.error(f"{toml_text(table)} is not a table", f"write [telemetry.{name}] then transport = ...")
        destinations.append(_destination(name, table, dw, resource, server, lwm2m_version))
    return TelemetrySettings(tuple(destinations))


def _destination(name: str, table: dict[str, Any], where: Where, resource: ResolveResource,
                 server: ServerProfile, lwm2m_version: str) -> DestinationSettings:
    values = check_params(_PARAMS, table, where, f"[telemetry.{name}]")
    transport = str(values["transport"])
    if transport not in TRANSPORTS:
        raise where.at("transport").error(f"unknown transport {transport!r}{did_you_mean(transport, TRANSPORTS)}",
                                          "use one of " + ", ".join(TRANSPORTS))
    for key, kinds in _ONLY_FOR.items():
        if key in values and transport not in kinds:
            raise where.at(key).error(f"{key} is for transport {' or '.join(kinds)}, not {transport}",
                                      f"remove {key}")
    if transport == "lwm2m_send" and lwm2m_version == "1.0":
        raise where.at("transport").error(
            "LwM2M Send needs LwM2M 1.1, and [server] registers with lwm2m_version = \"1.0\"",
            'set lwm2m_version = "1.1" under [server] (if the server speaks it), or use a Harvest transport')
    style = str(values.get("keys", "names"))
    if style not in _KEY_STYLES:
        raise where.at("keys").error(f"keys {style!r} is not one of {', '.join(_KEY_STYLES)}",
                                     'write keys = "names" (resource names) or keys = "ids" ("3303/0/5700")')
    id_key, time_key = str(values.get("id_key", "id")), str(values.get("time_key", "time"))
    resources = _resources(values.get("resources"), where.at("resources"), resource, style, transport)
    if id_key == time_key or {id_key, time_key} & {key for key, _ in resources}:
        clash = where.at("id_key" if "id_key" in values else "resources")
        raise clash.error(f"the keys {id_key!r} (reading id) and {time_key!r} (time) must differ from each other "
                          "and from every resource key", "rename a resource, or set id_key / time_key")
    file_source = _file_source(values, where)
    needs_resources = transport in JSON_TRANSPORTS or transport == "lwm2m_send" or file_source is None
    if needs_resources and not resources:
        raise where.error(f"[telemetry.{name}] sends no resources",
                          'add resources = ["/3303/0/5700"]' + (", or file = ... / command = [...]"
                                                               if transport == "files" else ""))
    device_id, device_secret = values.get("device_id"), values.get("device_secret")
    if transport == "publish":
        device_id = device_id or (server.psk_identity.decode("ascii", "replace") if server.psk_identity else None)
        if device_secret is None and server.psk_key is not None:
            device_secret = base64.b64encode(server.psk_key).decode("ascii")
    interval = _positive(values, "interval", 60.0, where)
    limits = QueueLimits(
        max_rows=_count(values, "max_rows", _DEFAULT_LIMITS.max_rows, where),
        max_bytes=_count(values, "max_bytes", _DEFAULT_LIMITS.max_bytes, where),
        max_age=_positive(values, "max_age", _DEFAULT_LIMITS.max_age, where))
    retry_initial = _positive(values, "retry_initial", 1.0, where)
    retry_max = _positive(values, "retry_max", 300.0, where)
    if retry_max < retry_initial:
        raise where.at("retry_max").error(f"retry_max {retry_max:g} is below retry_initial {retry_initial:g}",
                                          "give retry_max >= retry_initial")
    url = values.get("url")
    if url is not None:
        _check_url(str(url), transport, where.at("url"))
    path_template = str(values.get("path", f"/telemetry/{name}/{{time}}.csv"))
    if transport == "files":
        _check_path_template(path_template, where.at("path"))
    return DestinationSettings(
        name=name, transport=transport, resources=resources, interval=interval, limits=limits,
        url=None if url is None else str(url), id_key=id_key, time_key=time_key, retry_initial=retry_initial,
        retry_max=retry_max, device_id=None if device_id is None else str(device_id),
        device_secret=None if device_secret is None else str(device_secret), file_path=path_template,
        file_source=file_source, content_type=str(values.get("content_type", "text/csv" if file_source is None
                                                                else "application/octet-stream")))


def _resources(raw: object, where: Where, resource: ResolveResource, style: str, transport: str
               ) -> tuple[tuple[str, LwPath], ...]:
    if raw is None:
        return ()
    pairs: list[tuple[str, LwPath]] = []
    if isinstance(raw, list):
        for i, item in enumerate(raw):
            path, rmodel = resource(item, where.at(i))
            pairs.append((rmodel.name if style == "names" else str(path).lstrip("/"), path))
    elif isinstance(raw, dict):
        for key, item in raw.items():
            path, _ = resource(item, where.at(key))
            pairs.append((str(key), path))
    else:
        raise where.error(f"{toml_text(raw)} is neither a list of paths nor a table of key = path",
                          'write resources = ["/3303/0/5700"] or resources = { temp = "/3303/0/5700" }')
    seen: dict[str, LwPath] = {}
    for key, path in pairs:
        if key in seen:
            raise where.error(f"two resources get the key {key!r} ({seen[key]} and {path})",
                              'name them: resources = { temp = "/3303/0/5700", ... }, or keys = "ids"')
        seen[key] = path
    return tuple(pairs)


def _file_source(values: dict[str, Any], where: Where) -> FileSource | None:
    if "file" in values and "command" in values:
        raise where.at("command").error("a files destination uploads a file or a command's output, not both",
                                        "keep file or command")
    if "file" in values:
        return FileSource(path=str(values["file"]))
    if "command" in values:
        return FileSource(command=tuple(values["command"]))
    return None


def _positive(values: dict[str, Any], key: str, default: float, where: Where) -> float:
    value = float(values.get(key, default))
    if not value > 0 or math.isinf(value):
        raise where.at(key).error(f"{key} {value:g} is not a positive number of seconds",
                                  f"give e.g. {key} = {default:g}")
    return value


def _count(values: dict[str, Any], key: str, default: int, where: Where) -> int:
    value = int(values.get(key, default))
    if value < 1:
        raise where.at(key).error(f"{key} {value} is not a positive whole number", f"give e.g. {key} = {default}")
    return value


def _check_url(url: str, transport: str, where: Where) -> None:
    if transport.endswith(("_tcp", "_udp")):
        text = url.split("://", 1)[-1].rstrip("/")
        host, colon, port = text.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise where.error(f"{url!r} is not host:port", 'write e.g. url = "harvest.soracom.io:8514"')
    elif not url.startswith(("http://", "https://")):
        raise where.error(f"{url!r} is not an http:// or https:// URL", 'write e.g. url = "http://harvest.soracom.io/"')


_PLACEHOLDERS = ("id", "time", "datetime", "name")


def _check_path_template(template: str, where: Where) -> None:
    if not template.startswith("/") or template.endswith("/"):
        raise where.error(f"{template!r} is not an absolute file path", 'write e.g. path = "/logs/{time}.csv"')
    for found in re.findall(r"\{([^}]*)\}", template):
        if found not in _PLACEHOLDERS:
            raise where.error(f"unknown placeholder {{{found}}}", "use " + ", ".join(f"{{{p}}}" for p in _PLACEHOLDERS))
