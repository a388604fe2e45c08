"""Reading a profile file: TOML in, a checked :class:`~agent.profiles.spec.Profile` out.

Everything that can be known without hardware is checked here, so a bad profile is refused before
the agent starts, on the line that is wrong: TOML syntax, unknown tables and keys, object and
resource ids the models do not have, bindings whose operations the resource does not allow (a
write binding on a read-only resource), values of the wrong type, unknown binding kinds, and every
argument a hardware backend refuses (each binding is constructed once in a dry run, with no port
opened and no line requested). Whether a serial port or GPIO chip exists on this machine is left
to :func:`agent.profiles.build.build_agent_tree`: a profile for a Raspberry Pi loads anywhere.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from ..core.errors import LwM2MError
from ..core.model import ModelRegistry, ObjectModel, ResourceModel, ResourceType
from ..core.path import Path as LwPath
from ..core.server_uri import BadServerUri, check_server_uri
from ..hardware import FACTS
from ..hardware.serial_bindings import NMEA_FIELDS
from ..models import load_models, shipped_models
from ..shipped_files import shipped_dir
from ..telemetry.sigfox_frame import frame_length
from ..telemetry.sigfox_modem import DOWNLINK_BYTES
from ..telemetry.sigfox_uplinks import DAILY_DOWNLINKS, DAILY_UPLINKS
from .build import assemble_tree
from .context import SERIAL_SETTINGS, HardwareContext, resolve_port
from .endpoint import TemplateError, default_endpoint_name, resolve_endpoint_template
from .errors import ProfileError, Where, did_you_mean, toml_text
from .factories import shortcut_resource_ids
from .kinds import (
    GPIO_INPUT_FIELDS,
    GPIO_INPUT_FIELDS_BY_ID,
    KINDS,
    NMEA_FIELDS_BY_ID,
    SIMULATED_SOURCES,
    Param,
    binding_operations,
    check_param,
    check_params,
)
from .limits import parse_limits
from .locate import LineIndex
from .sigfox import MIN_SENSIBLE_INTERVAL, SigfoxField, SigfoxProfile, profile_field
from .spec import BindingSpec, InstanceSpec, Profile, SerialPortSpec, ServerProfile, ShortcutSpec
from .telemetry import load_telemetry
from .values import toml_to_content, toml_to_value

MAX_PROFILE_BYTES = 1024 * 1024
_TOP_KEYS = ("description", "server", "models", "serial", "objects", "sigfox", "telemetry", "limits")
_SERVER_KEYS = ("uri", "endpoint", "lifetime", "binding", "lwm2m_version", "bootstrap", "psk_identity", "psk_key",
                "psk_key_file", "short_server_id", "soracom")
_BINDING_MODES = re.compile(r"^(U|UQ|S|SQ|US|UQS|T|TQ|N|NQ|[UMHTSNQ]{1,6})$")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_SYSTEM_INSTANCES = {"device": 3, "connectivity": 4}
_SHORTCUT_OPTIONS: dict[str, dict[str, Param]] = {
    "device": {"root": Param("str"), "reboot_command": Param("argv"), "factory_reset_command": Param("argv")},
    "connectivity": {"root": Param("str"), "interface": Param("str")},
    "cpu_temperature": {"root": Param("str"), "poll_interval": Param("number"), "thermal_zone": Param("str")},
    "nmea": {}, "gpio_input": {}, "gpio_output": {},
    "file_tree": {"poll_interval": Param("number")},
}
_SHORTCUTS = ("system", "nmea", "gpio_input", "gpio_output", "file_tree")
_GPIO_INPUT_TABLE = {k: v for k, v in KINDS["gpio_input"].params.items() if k != "field"}
_GPIO_OUTPUT_TABLE = dict(KINDS["gpio_output"].params)
_SERIAL_PARAMS: dict[str, Param] = {
    "device": Param("str", True, 'device = "/dev/ttyUSB0"'), "baudrate": Param("int"), "bytesize": Param("int"),
    "parity": Param("str"), "stopbits": Param("number"), "encoding": Param("str"),
    "silence_timeout": Param("number"), "reconnect_delay": Param("number"), "reconnect_max_delay": Param("number"),
    "optional": Param("bool"),
}


def shipped_profile(name: str) -> Path:
    """A profile of the project's ``device_profiles/`` folder, e.g. ``shipped_profile("simulator")``."""
    return shipped_dir("device_profiles") / f"{name.removesuffix('.toml')}.toml"


def load_profile(path: str | os.PathLike[str], *, root: Path = Path("/")) -> Profile:
    """Parse and check the profile at ``path`` against its object models; no hardware is opened.

    ``root`` is where the endpoint-name facts (serial number, MAC, machine id) are read from.
    Raises :class:`~agent.profiles.errors.ProfileError` naming the file, line, field and fix.
    """
    file = os.fspath(path)
    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_PROFILE_BYTES + 1)
    except OSError as exc:
        raise ProfileError(file, 1, "", f"cannot read the profile: {exc.strerror or exc}",
                           "check the path and the file's permissions") from None
    if len(data) > MAX_PROFILE_BYTES:
        raise ProfileError(file, 1, "", f"the file is larger than {MAX_PROFILE_BYTES} bytes; a profile is not",
                           "give the path of a device profile (.toml)")
    return parse_profile(data, file, root=root)


def parse_profile(data: bytes, file: str, *, root: Path = Path("/")) -> Profile:
    """:func:`load_profile` on bytes already read (``file`` names them in errors and anchors paths)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ProfileError(file, line, "", "the file is not UTF-8 text", "save the profile as UTF-8") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        line = int(found.group(1)) if found else text.count("\n") + 1
        reason = _TOML_POSITION.sub("", message).replace("(at end of document)", "at the end of the file").strip()
        raise ProfileError(file, line, "", f"not valid TOML: {reason}",
                           "fix the TOML syntax (https://toml.io): strings in quotes, one key = value per line, "
                           "[table] headers") from None
    return _Loader(file, LineIndex(text), root).load(document)


def _integer_id(key: str, where: Where, what: str, fix: str) -> int:
    if not (key.isascii() and key.isdigit()) or int(key) > 65534:
        raise where.error(f"{key!r} is not {what} (a number from 0 to 65534)", fix)
    return int(key)


def _resource_list(model: ObjectModel) -> str:
    names = [f"{r.id} {r.name}" for r in model.resources.values()]
    return ", ".join(names[:16]) + (", ..." if len(names) > 16 else "")


def _convertible(source: ResourceType, target: ResourceType) -> bool:
    """Whether a backend value of type ``source`` can serve a resource of type ``target``."""
    numbers = (ResourceType.INTEGER, ResourceType.UNSIGNED_INTEGER, ResourceType.FLOAT, ResourceType.TIME)
    if source is target or target is ResourceType.STRING:
        return True
    return source in numbers and target in numbers


class _Loader:
    def __init__(self, file: str, lines: LineIndex, root: Path) -> None:
        self.file = file
        self.top = Where(file, lines)
        self.root = root
        self.dir = Path(file).resolve().parent
        self.warnings: list[str] = []
        self.models = ModelRegistry()
        self.serial_ports: dict[str, SerialPortSpec] = {}

    def warn(self, where: Where, text: str) -> None:
        self.warnings.append(f"{self.file}:{where.line}: {where.field + ': ' if where.field else ''}{text}")

    @staticmethod
    def table(raw: object, where: Where, fix: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise where.error(f"{toml_text(raw)} is not a table", fix)
        return raw

    # ---- the document ------------------------------------------------------------------------------
    def load(self, doc: dict[str, Any]) -> Profile:
        for key in doc:
            if key not in _TOP_KEYS:
                raise self.top.at(key).error(f"unknown table or key {key!r}{did_you_mean(key, _TOP_KEYS)}",
                                             "use " + ", ".join(f"[{k}]" for k in _TOP_KEYS[1:]) + " and description")
        description = doc.get("description", "")
        if not isinstance(description, str):
            raise self.top.at("description").error("the description is not a string", 'write description = "..."')
        if "server" not in doc:
            raise self.top.error("the profile has no [server] table",
                                 'add [server] with uri = "coap://HOST:5683" (or bootstrap = "coap://...")')
        server = self.server(self.table(doc["server"], self.top.at("server"), 'write [server] then uri = "..."'))
        folders = self.load_models(doc.get("models"))
        if "serial" in doc:
            self.serial(self.table(doc["serial"], self.top.at("serial"), "write [serial.NAME] tables"))
        instances = self.objects(doc.get("objects", {}))
        profile = Profile(path=Path(self.file), description=description, server=server, models=self.models,
                          model_folders=folders, serial_ports=self.serial_ports, instances=instances,
                          warnings=self.warnings, where=self.top)
        if "limits" in doc:
            profile.limits = parse_limits(self.table(doc["limits"], self.top.at("limits"), "write [limits]"),
                                          self.top.at("limits"))
        if "sigfox" in doc:
            profile.sigfox = self.sigfox(self.table(doc["sigfox"], self.top.at("sigfox"), "write [sigfox]"),
                                         instances)
        if "telemetry" in doc:
            where = self.top.at("telemetry")
            profile.telemetry = load_telemetry(
                self.table(doc["telemetry"], where, "write [telemetry.NAME] tables"), where,
                lambda raw, at: self.readable_resource(raw, at, instances), server, server.lwm2m_version)
        # Every argument a backend would refuse is refused now: construct everything once, touching nothing.
        dry = HardwareContext(mode="dry", profile_dir=self.dir, serial_ports=self.serial_ports)
        assemble_tree(profile, dry)
        for name, port in self.serial_ports.items():
            dry.serial_reader(name, port.where)  # also the ports no binding uses (the Sigfox modem's)
        return profile

    # ---- [server] ----------------------------------------------------------------------------------
    def server(self, raw: dict[str, Any]) -> ServerProfile:
        where = self.top.at("server")
        params = {
            "uri": Param("str", example='uri = "coap://127.0.0.1:5683"'), "endpoint": Param("str"),
            "lifetime": Param("int"), "binding": Param("str"), "lwm2m_version": Param("str"),
            "bootstrap": Param("str", example='bootstrap = "coap://bootstrap.soracom.io:5683"'),
            "psk_identity": Param("str"), "psk_key": Param("str"), "psk_key_file": Param("str"),
            "short_server_id": Param("int"), "soracom": Param("str", example='soracom = "jp"'),
            "retry_ceiling": Param("int", example="retry_ceiling = 3600"),
        }
        if isinstance(raw.get("lwm2m_version"), float):
            raw = {**raw, "lwm2m_version": f"{raw['lwm2m_version']:.1f}"}
        values = check_params(params, raw, where, "[server]")
        values = self.soracom_preset(values, where)
        uri = values.get("uri")
        bootstrap = values.get("bootstrap")
        if uri is None and bootstrap is None:
            raise where.error("[server] names no server", 'add uri = "coap://HOST:5683" or bootstrap = "coap://HOST:5683"')
        for key in ("uri", "bootstrap"):
            if key in values:
                self.check_uri(str(values[key]), where.at(key))
        lifetime = values.get("lifetime", 60)
        assert isinstance(lifetime, int)
        if not 1 <= lifetime <= 86400 * 365:
            raise where.at("lifetime").error(f"lifetime {lifetime} is not 1 s to a year", "give e.g. lifetime = 60")
        if lifetime < 30:
            self.warn(where.at("lifetime"), f"a lifetime of {lifetime} s means an Update every few seconds")
        binding = str(values.get("binding", "U"))
        if not _BINDING_MODES.match(binding):
            raise where.at("binding").error(f"{binding!r} is not an LwM2M binding mode", 'give e.g. binding = "U"')
        if "Q" in binding:
            # Refused rather than advertised and ignored: a server that believes the agent sleeps
            # queues its requests, and an agent that never sleeps would never collect them.
            raise where.at("binding").error(
                f"queue mode ({binding!r}) is not supported: the agent stays online and reachable on UDP",
                f'give binding = "{binding.replace("Q", "") or "U"}" (the agent answers at once, so nothing '
                "needs queueing)")
        ceiling = values.get("retry_ceiling", 3600)
        assert isinstance(ceiling, int)
        if not 1 <= ceiling <= 86400:
            raise where.at("retry_ceiling").error(f"retry_ceiling {ceiling} is not 1 s to a day",
                                                  "give e.g. retry_ceiling = 3600 (seconds)")
        version = str(values.get("lwm2m_version", "1.0"))
        if version not in ("1.0", "1.1"):
            raise where.at("lwm2m_version").error(f"LwM2M version {version!r} is not supported",
                                                  'give lwm2m_version = "1.0" (what Soracom uses) or "1.1"')
        ssid = values.get("short_server_id", 123)
        assert isinstance(ssid, int)
        if not 1 <= ssid <= 65534:
            raise where.at("short_server_id").error(f"{ssid} is not 1 to 65534", "give e.g. short_server_id = 123")
        psk_identity, psk_key = self.psk(values, where, uri)
        endpoint = values.get("endpoint")
        if endpoint is None:
            name = default_endpoint_name(root=self.root)
        else:
            try:
                name = resolve_endpoint_template(str(endpoint), root=self.root)
            except TemplateError as exc:
                raise where.at("endpoint").error(exc.reason, exc.fix) from None
        if name.warning:
            self.warn(where.at("endpoint") if endpoint is not None else where,
                      f"endpoint name {name.name!r}: {name.warning}")
        return ServerProfile(uri=str(uri) if uri is not None else None, endpoint=name.name,
                             endpoint_warning=name.warning, lifetime=lifetime, binding=binding, lwm2m_version=version,
                             bootstrap_uri=str(bootstrap) if bootstrap is not None else None, psk_identity=psk_identity,
                             psk_key=psk_key, short_server_id=ssid, retry_ceiling=ceiling)

    @staticmethod
    def check_uri(uri: str, where: Where) -> None:
        try:
            check_server_uri(uri)
        except BadServerUri as exc:
            raise where.error(exc.message, exc.fix) from None

    @staticmethod
    def soracom_preset(values: dict[str, object], where: Where) -> dict[str, object]:
        """``soracom = "jp"`` fills in what is not given: the DM server with a key, else the bootstrap server."""
        from ..soracom.endpoints import COVERAGES

        name = values.get("soracom")
        if name is None:
            return values
        coverage = COVERAGES.get(str(name))
        if coverage is None:
            raise where.at("soracom").error(f"{name!r} is not a Soracom coverage area",
                                            f"give one of {', '.join(repr(k) for k in COVERAGES)}")
        filled = dict(values)
        has_key = "psk_key" in values or "psk_key_file" in values
        if "uri" not in values and "bootstrap" not in values:
            filled["uri" if has_key else "bootstrap"] = coverage.dm_server if has_key else coverage.bootstrap_server
        filled.setdefault("lwm2m_version", coverage.lwm2m_version)
        filled.setdefault("short_server_id", coverage.short_server_id)
        return filled

    def psk_key_from_file(self, values: dict[str, object], where: Where) -> str | None:
        """The base64 text of ``psk_key_file`` (relative to the profile), or None when not given."""
        from ..soracom.device_keys import DeviceKeyError, read_device_key_file

        name = values.get("psk_key_file")
        if name is None:
            return None
        if "psk_key" in values:
            raise where.at("psk_key_file").error("psk_key and psk_key_file are both given", "keep one of them")
        path = Path(str(name))
        if not path.is_absolute():
            path = Path(self.top.file).parent / path
        try:
            key, warning = read_device_key_file(path)
        except DeviceKeyError as exc:
            raise where.at("psk_key_file").error(str(exc), "give the file that holds the base64 secret key") \
                from None
        if warning:
            self.warn(where.at("psk_key_file"), warning)
        return base64.b64encode(key).decode()

    def psk(self, values: dict[str, object], where: Where, uri: object) -> tuple[bytes | None, bytes | None]:
        identity, key = values.get("psk_identity"), values.get("psk_key")
        if key is None:
            key = self.psk_key_from_file(values, where)
        if (identity is None) != (key is None):
            missing = "psk_key" if key is None else "psk_identity"
            raise where.error(f"{missing} is missing: a pre-shared key needs both psk_identity and psk_key",
                              'give the device id (psk_identity = "d-...") and its secret key (psk_key = "base64...") '
                              "as the Soracom console shows them")
        if key is None:
            if isinstance(uri, str) and uri.startswith("coaps:") and values.get("bootstrap") is None:
                raise where.at("uri").error(f"{uri} needs a pre-shared key",
                                            "add psk_identity and psk_key, or use coap:// or a bootstrap server")
            return None, None
        try:
            decoded = base64.b64decode(str(key), validate=True)
        except binascii.Error as exc:
            raise where.at("psk_key").error(f"psk_key is not base64 ({exc})",
                                            "paste the secret key exactly as the Soracom console issued it") from None
        if not decoded:
            raise where.at("psk_key").error("psk_key is empty", "paste the device's secret key")
        if isinstance(uri, str) and uri.startswith("coap:"):
            self.warn(where.at("psk_key"), "a pre-shared key is not used over coap:// (no DTLS)")
        return str(identity).encode(), decoded

    # ---- [models] ----------------------------------------------------------------------------------
    def load_models(self, raw: object) -> list[Path]:
        self.models = shipped_models()
        if raw is None:
            return []
        where = self.top.at("models")
        values = check_params({"folders": Param("str_list", example='folders = ["../objects/custom"]')},
                              self.table(raw, where, 'write [models] then folders = ["..."]'), where, "[models]")
        folders: list[Path] = []
        for i, text in enumerate(values.get("folders", [])):
            item = where.at("folders", i)
            folder = Path(text).expanduser()
            folder = folder if folder.is_absolute() else self.dir / folder
            if not folder.exists():
                raise item.error(f"no folder or file {folder}", "give a path relative to the profile's folder")
            result = load_models([folder])
            if result.refused:
                error = result.refused[0]
                raise item.error(f"a model does not load: {error}", "fix the model file, or remove it from the folder")
            self.models.update(result.registry())
            folders.append(folder)
        return folders

    # ---- [serial.NAME] -----------------------------------------------------------------------------
    def serial(self, raw: dict[str, Any]) -> None:
        devices: dict[str, Where] = {}
        for name, table in raw.items():
            where = self.top.at("serial", name)
            fix = f'write [serial.{name}] then device = "..."'
            values = check_params(_SERIAL_PARAMS, self.table(table, where, fix), where, f"[serial.{name}]")
            device = str(values["device"])
            if device.startswith("sim:"):
                resolve_port(device, {}, where.at("device"))
            elif not device.startswith("/"):
                raise where.at("device").error(f"{device!r} is not a device path",
                                               f'give e.g. device = "/dev/{device}"')
            if device in devices:
                raise where.at("device").error(f"{device} is already declared (line {devices[device].line})",
                                               "declare each port once and refer to it by its name")
            devices[device] = where.at("device")
            settings = {k: v for k, v in values.items() if k in SERIAL_SETTINGS}
            self.serial_ports[name] = SerialPortSpec(name, device, settings, bool(values.get("optional", False)),
                                                     where, declared=True)

    # ---- [objects.OBJECT.INSTANCE] -----------------------------------------------------------------
    def objects(self, raw: object) -> list[InstanceSpec]:
        where = self.top.at("objects")
        objects = self.table(raw, where, "write [objects.3303.0] tables")
        instances: list[InstanceSpec] = []
        for oid_key, object_raw in objects.items():
            ow = where.at(oid_key)
            oid = _integer_id(oid_key, ow, "an object id", "write [objects.3303.0], the object id then the instance id")
            if oid in (0, 1):
                raise ow.error(f"object {oid} ({'Security' if oid == 0 else 'Server'}) is built from [server]",
                               "remove it; set uri, psk_identity, psk_key and lifetime in [server]")
            model = self.models.get(oid)
            if model is None:
                known = ", ".join(str(m.id) for m in sorted(self.models, key=lambda m: m.id))
                near = did_you_mean(oid_key, [str(m.id) for m in self.models])
                raise ow.error(f"no object model for object {oid}{near}",
                               f"use a loaded object ({known}) or load its model with [models] folders = [...]")
            table = self.table(object_raw, ow, f"write [objects.{oid}.0] (the instance id after the object id)")
            extra = next((k for k in table if k != "0"), None)
            if not model.multiple and extra is not None:
                raise ow.at(extra).error(f"object {oid} ({model.name}) is single-instance: it has instance 0 only",
                                         f"give only [objects.{oid}.0]")
            for iid_key, instance_raw in table.items():
                iw = ow.at(iid_key)
                iid = _integer_id(iid_key, iw, "an instance id",
                                  f"write [objects.{oid}.0] then its keys, e.g. [objects.{oid}.0.resources]")
                instances.append(self.instance(model, iid, self.table(
                    instance_raw, iw, f"write [objects.{oid}.{iid}] with resources or a shortcut"), iw))
        if not any(spec.object_id == 3 for spec in instances):
            self.warn(where, 'LwM2M requires the Device object (3); add [objects.3.0] with system = "device"')
        return instances

    def instance(self, model: ObjectModel, iid: int, raw: dict[str, Any], where: Where) -> InstanceSpec:
        shortcuts = [key for key in raw if key in _SHORTCUTS]
        if len(shortcuts) > 1:
            raise where.at(shortcuts[1]).error(f"an instance takes one shortcut, not {shortcuts[0]} and {shortcuts[1]}",
                                               "keep one and bind the other resources under resources")
        shortcut = self.shortcut(model, shortcuts[0], raw, where) if shortcuts else None
        for key in raw:
            if key == "resources" or key in _SHORTCUTS or (shortcut is not None and key in shortcut.options):
                continue
            allowed = ["resources", *_SHORTCUTS]
            raise where.at(key).error(f"unknown key {key!r} in an instance{did_you_mean(key, allowed)}",
                                      "use resources (a table of resource id -> binding) or one of the shortcuts "
                                      + ", ".join(_SHORTCUTS))
        resources: dict[int, BindingSpec] = {}
        if "resources" in raw:
            rw = where.at("resources")
            for rid_key, binding_raw in self.table(raw["resources"], rw, "write resources.5700 = {...}").items():
                rid = _integer_id(rid_key, rw.at(rid_key), "a resource id",
                                  f"use a resource id of object {model.id}: {_resource_list(model)}")
                rmodel = model.resources.get(rid)
                if rmodel is None:
                    raise rw.at(rid_key).error(f"object {model.id} ({model.name}) has no resource {rid}",
                                               f"use one of {_resource_list(model)}")
                resources[rid] = self.binding(model, iid, rmodel, binding_raw, rw.at(rid_key))
        bound = set(resources) | (shortcut_resource_ids(shortcut, model) if shortcut is not None else set())
        if not bound:
            raise where.error(f"instance {model.id}/{iid} binds no resource",
                              f"add [objects.{model.id}.{iid}.resources] with e.g. {next(iter(model.resources))} = ...")
        missing = [r for r in model.resources.values() if r.mandatory and r.id not in bound]
        if missing:
            self.warn(where, f"mandatory resources of {model.name} not bound: "
                             + ", ".join(f"{r.id} {r.name}" for r in missing))
        return InstanceSpec(model.id, iid, shortcut, resources, where)

    def shortcut(self, model: ObjectModel, kind: str, raw: dict[str, Any], where: Where) -> ShortcutSpec:
        sw = where.at(kind)
        value = raw[kind]
        option_set = kind
        if kind == "system":
            choices = ("device", "connectivity", "cpu_temperature")
            if value not in choices:
                raise sw.error(f"no system instance {toml_text(value)}{did_you_mean(str(value), choices)}",
                               'use system = "device" (object 3), "connectivity" (4) or "cpu_temperature" (3303)')
            option_set = str(value)
            wanted = _SYSTEM_INSTANCES.get(str(value))
            if wanted is not None and model.id != wanted:
                raise sw.error(f'system = "{value}" fills object {wanted}, not {model.id}',
                               f"move it to [objects.{wanted}.0]")
            temperature = model.resources.get(5700)
            if value == "cpu_temperature" and (temperature is None or temperature.type is not ResourceType.FLOAT):
                raise sw.error(f"object {model.id} has no Float sensor value 5700 for the CPU temperature",
                               "put it in [objects.3303.N]")
        elif kind == "nmea":
            check_param(kind, Param("str", example='nmea = "/dev/ttyACM0"'), value, sw)
            if model.id != 6:
                raise sw.error(f"nmea fills the Location object 6, not {model.id}",
                               'move it to [objects.6.0], or bind single resources with kind = "nmea"')
            resolve_port(str(value), self.serial_ports, sw)
        elif kind in ("gpio_input", "gpio_output"):
            schema = _GPIO_INPUT_TABLE if kind == "gpio_input" else _GPIO_OUTPUT_TABLE
            table = self.table(value, sw, f'write {kind} = {{ chip = "gpiochip0", line = 17 }}')
            value = check_params(schema, table, sw, kind)
            needed = (5500,) if kind == "gpio_input" else (5850, 5550)
            if not any(rid in model.resources for rid in needed):
                raise sw.error(f"object {model.id} ({model.name}) has no resource "
                               + " or ".join(str(r) for r in needed) + f" for a {kind}",
                               "use it on 3200, 3342 or 3347 (inputs) or 3201, 3311 (outputs)")
        else:
            check_param(kind, Param("str", example='file_tree = "/var/lib/lwm2m-agent/files"'), value, sw)
        options = {key: raw[key] for key in raw if key not in ("resources", kind)}
        schema = _SHORTCUT_OPTIONS[option_set]
        options = {k: v for k, v in options.items() if k in schema}
        return ShortcutSpec(kind, value, check_params(schema, options, where, f"{kind} = {toml_text(value)}"), sw)

    # ---- one resource's binding --------------------------------------------------------------------
    def binding(self, model: ObjectModel, iid: int, rmodel: ResourceModel, raw: object, where: Where) -> BindingSpec:
        name = f"resource {rmodel.id} {rmodel.name} ({rmodel.operations.value or 'no operations'})"
        if not isinstance(raw, dict):
            if rmodel.operations.executable:
                raise where.error(f"{name} is executable and holds no value",
                                  'bind it with kind = "command" (execute_command), "file", "reboot" or '
                                  '"factory_reset"')
            kind = "value" if rmodel.operations.writable else "constant"
            params: dict[str, object] = {"value": raw}
        else:
            if "kind" not in raw:
                raise where.error("the binding has no kind", "add kind = ... (one of " + ", ".join(KINDS) + ")")
            kind = raw["kind"]
            if not isinstance(kind, str) or kind not in KINDS:
                raise where.at("kind").error(f"unknown binding kind {toml_text(kind)}{did_you_mean(str(kind), KINDS)}",
                                             "use one of " + ", ".join(KINDS))
            params = {k: v for k, v in raw.items() if k != "kind"}
            schema = dict(KINDS[kind].params)
            if kind == "simulated":
                source = params.get("source")
                if not isinstance(source, str) or source not in SIMULATED_SOURCES:
                    raise (where.at("source") if "source" in params else where).error(
                        f"unknown simulated source {toml_text(source)}{did_you_mean(str(source), SIMULATED_SOURCES)}",
                        "use source = " + ", ".join(f'"{s}"' for s in SIMULATED_SOURCES))
                schema.update(SIMULATED_SOURCES[source])
            params = check_params(schema, params, where, f"a {kind} binding")
        spec = BindingSpec(model.id, iid, rmodel.id, kind, params, where)
        self.check_operations(spec, rmodel, name)
        self.check_kind(spec, rmodel, name)
        return spec

    @staticmethod
    def check_operations(spec: BindingSpec, rmodel: ResourceModel, name: str) -> None:
        ops = binding_operations(spec.kind, spec.params, rmodel)
        allowed = rmodel.operations
        where = spec.where.at("kind")
        if allowed.executable and not ops.executes:
            raise where.error(f"{name} is executable; a {spec.kind} binding does not execute",
                              'use kind = "command" with execute_command, "file" (a program), "reboot", '
                              '"factory_reset", or "gpio_input" with field = "counter_reset"')
        if not allowed.executable and ops.executes:
            key = "execute_command" if "execute_command" in spec.params else "kind"
            raise spec.where.at(key).error(f"{name} is not executable; this {spec.kind} binding executes",
                                           "bind an executable resource instead, or remove the execute part")
        if ops.writes and not allowed.writable:
            key = next((k for k in ("write_command", "write_hook") if k in spec.params), "kind")
            raise spec.where.at(key).error(f"a write binding on a read-only resource: {name}",
                                           "bind a writable resource (e.g. 3311/x/5850 or 3201/x/5550), "
                                           f"or remove {key if key != 'kind' else 'the write binding'}")
        if allowed.readable and not ops.reads:
            raise where.error(f"{name} is readable, but this {spec.kind} binding cannot read it",
                              "add read_command" if spec.kind == "command" else "use a binding that reads")

    def check_kind(self, spec: BindingSpec, rmodel: ResourceModel, name: str) -> None:
        p, kind, where = spec.params, spec.kind, spec.where
        if kind in ("serial_line", "nmea", "serial_query"):
            resolve_port(str(p["port"]), self.serial_ports, where.at("port"))
            if rmodel.multiple:
                raise where.error(f"{name} is a multiple-instance resource; a {kind} binding gives one value",
                                  "bind it to a single-instance resource")
        if kind == "system":
            fact = FACTS.get(str(p["fact"]))
            if fact is None:
                raise where.at("fact").error(f"no system fact {p['fact']!r}{did_you_mean(str(p['fact']), FACTS)}",
                                             "use one of " + ", ".join(FACTS))
            if fact.multiple != rmodel.multiple:
                shape = "several values" if fact.multiple else "one value"
                raise where.at("fact").error(f"fact {p['fact']} gives {shape}; {name} is "
                                             + ("multiple-instance" if rmodel.multiple else "single-instance"),
                                             "bind the fact to a resource of the same shape")
        elif kind == "nmea":
            field = p.get("field", NMEA_FIELDS_BY_ID.get(rmodel.id) if spec.object_id == 6 else None)
            if field is None:
                raise where.error("an nmea binding outside object 6 needs its field",
                                  "add field = " + " or ".join(f'"{f}"' for f in NMEA_FIELDS))
            if field not in NMEA_FIELDS:
                raise where.at("field").error(f"no NMEA field {field!r}{did_you_mean(str(field), NMEA_FIELDS)}",
                                              "use one of " + ", ".join(NMEA_FIELDS))
            if not _convertible(NMEA_FIELDS[str(field)], rmodel.type):
                raise where.at("field").error(f"the GPS {field} ({NMEA_FIELDS[str(field)].value}) cannot be a "
                                              f"{rmodel.type.value}", "bind it to a resource of a matching type")
        elif kind == "gpio_input":
            field = p.get("field", GPIO_INPUT_FIELDS_BY_ID.get(rmodel.id, "state"))
            if field not in GPIO_INPUT_FIELDS:
                near = did_you_mean(str(field), GPIO_INPUT_FIELDS)
                raise where.at("field").error(f"no GPIO input field {field!r}{near}",
                                              "use one of " + ", ".join(GPIO_INPUT_FIELDS))
            types = {"state": ResourceType.BOOLEAN, "polarity": ResourceType.BOOLEAN,
                     "counter": ResourceType.INTEGER, "timestamp": ResourceType.TIME}
            if field in types and not _convertible(types[str(field)], rmodel.type):
                raise where.at("field").error(f"the line's {field} ({types[str(field)].value}) cannot be a "
                                              f"{rmodel.type.value}", "bind it to a resource of a matching type")
        elif kind == "gpio_output" and rmodel.type is not ResourceType.BOOLEAN:
            raise where.at("kind").error(f"a GPIO output is on or off; {name} is a {rmodel.type.value}",
                                         "bind it to a Boolean resource such as 3311/x/5850 or 3201/x/5550")
        elif kind in ("constant", "value"):
            # A plain ``5701 = "Cel"`` has no "value" key to point at; the resource's line is the place.
            value_where = where.at("value") if where.lines.has((*where.path, "value")) else where
            p["value"] = toml_to_content(p["value"], rmodel, value_where)
        elif kind == "simulated":
            if rmodel.multiple:
                raise where.error(f"{name} is multiple-instance; a simulated source gives one value",
                                  "bind it to a single-instance resource")
            if p["source"] == "toggle" and rmodel.type is not ResourceType.BOOLEAN:
                raise where.at("source").error(f"a toggle is a Boolean; {name} is a {rmodel.type.value}",
                                               "use random_walk, sine or counter for numbers, cycle for the rest")
        elif kind == "file" and rmodel.multiple and not rmodel.operations.executable:
            raise where.error(f"{name} is multiple-instance; a file holds one value",
                              'bind it with kind = "command" and a read_command printing one value per line')
        if kind == "file" and "initial" in p:
            if rmodel.operations.executable:
                raise where.at("initial").error(f"{name} is a program to run; it has no initial value",
                                                "remove initial")
            toml_to_value(p["initial"], rmodel.type, where.at("initial"))

    def readable_resource(self, raw: object, where: Where, instances: list[InstanceSpec], need: str = "read"
                          ) -> tuple[LwPath, ResourceModel]:
        """The resource ``raw`` names (``"/3303/0/5700"``) if the profile serves it as a single value that
        can be read (``need``: or written, or executed), else ProfileError at ``where``."""
        try:
            path = LwPath.parse(str(raw))
        except (ValueError, LwM2MError):
            path = LwPath()
        if len(path) != 3:
            raise where.error(f"{raw!r} is not a resource path", 'give e.g. "/3303/0/5700"')
        instance = next((s for s in instances if (s.object_id, s.instance_id) == (path[0], path[1])), None)
        model = self.models.get(path[0])
        rmodel = model.resources.get(path[2]) if model is not None else None
        bound = instance is not None and model is not None and (
            path[2] in instance.resources
            or (instance.shortcut is not None and path[2] in shortcut_resource_ids(instance.shortcut, model)))
        if not bound or rmodel is None:
            raise where.error(f"the profile serves no resource {path}",
                              "give the path of a resource bound under [objects]")
        allowed = {"read": rmodel.operations.readable, "write": rmodel.operations.writable,
                   "execute": rmodel.operations.executable}[need]
        if not allowed or rmodel.multiple:
            word = {"read": "readable", "write": "writable", "execute": "executable"}[need]
            raise where.error(f"{path} ({rmodel.name}) is not a {word} single-instance resource",
                              f"give a {word} single resource")
        return path, rmodel

    # ---- [sigfox] ----------------------------------------------------------------------------------
    def sigfox(self, raw: dict[str, Any], instances: list[InstanceSpec]) -> SigfoxProfile:
        where = self.top.at("sigfox")
        params = {
            "port": Param("str", True, 'port = "sim:sigfox" (or "/dev/ttyUSB1", or a [serial.NAME])'),
            "interval": Param("number", example="interval = 900"),
            "fields": Param("list", True, 'fields = [{ path = "/3303/0/5700", format = "int:16:/100" }]'),
            "downlink_every": Param("int", example="downlink_every = 35"),
            "downlink": Param("list", example='downlink = [{ path = "/3311/0/5850", format = "bool:7" }]'),
            "downlink_execute": Param("str", example='downlink_execute = "/30000/0/26242"'),
            "daily_uplinks": Param("int", example="daily_uplinks = 140"),
            "daily_downlinks": Param("int", example="daily_downlinks = 4"),
        }
        values = check_params(params, raw, where, "[sigfox]")
        port = str(values["port"])
        resolve_port(port, self.serial_ports, where.at("port"))
        interval = float(values.get("interval", 900))
        if not interval > 0 or interval == float("inf"):
            raise where.at("interval").error(f"interval {interval:g} is not a positive number of seconds",
                                             "give e.g. interval = 900")
        if interval < MIN_SENSIBLE_INTERVAL:
            self.warn(where.at("interval"), f"an uplink every {interval:g} s is more than the 140 a day Sigfox allows")
        items = values["fields"]
        assert isinstance(items, list)
        if not items:
            raise where.at("fields").error("no fields", 'add e.g. { path = "/3303/0/5700", format = "int:16:/100" }')
        fields = self.sigfox_fields(items, "fields", where, instances, "read")
        downlink = self.sigfox_fields(values.get("downlink", []), "downlink", where, instances, "write")
        if downlink and frame_length(downlink) > DOWNLINK_BYTES:
            raise where.at("downlink").error(f"the downlink fields take {frame_length(downlink)} bytes; a Sigfox "
                                             f"downlink has {DOWNLINK_BYTES}", "use fewer or smaller fields")
        execute = None
        if "downlink_execute" in values:
            execute, _ = self.readable_resource(values["downlink_execute"], where.at("downlink_execute"), instances,
                                                "execute")
        daily_uplinks = int(values.get("daily_uplinks", DAILY_UPLINKS))
        daily_downlinks = int(values.get("daily_downlinks", DAILY_DOWNLINKS))
        every = int(values.get("downlink_every", 0))
        for key, value, low, high in (("daily_uplinks", daily_uplinks, 1, DAILY_UPLINKS),
                                      ("daily_downlinks", daily_downlinks, 0, DAILY_DOWNLINKS),
                                      ("downlink_every", every, 0, 10_000)):
            if not low <= value <= high:
                raise where.at(key).error(f"{key} {value} is outside {low}..{high}",
                                          "Sigfox contracts allow 140 uplinks and 4 downlinks a day")
        if (downlink or execute is not None) and every == 0:
            self.warn(where.at("downlink"), "downlinks are mapped but downlink_every is 0: none is ever asked for")
        return SigfoxProfile(port=port, interval=interval, fields=tuple(fields), downlink_every=every,
                             downlink=tuple(downlink), downlink_execute=execute, daily_uplinks=daily_uplinks,
                             daily_downlinks=daily_downlinks)

    def sigfox_fields(self, items: object, key: str, where: Where, instances: list[InstanceSpec], need: str
                      ) -> list[SigfoxField]:
        """The frame fields of ``[sigfox]``'s list ``key``; each resource must allow ``need``."""
        fields: list[SigfoxField] = []
        assert isinstance(items, list)
        for i, item in enumerate(items):
            fw = where.at(key, i)
            entry = check_params({"path": Param("str", True, 'path = "/3303/0/5700"'),
                                  "format": Param("str", True, 'format = "int:16:/100"'), "name": Param("str")},
                                 self.table(item, fw, '{ path = "/3303/0/5700", format = "int:16:/100" }'), fw,
                                 "a sigfox field")
            path, rmodel = self.readable_resource(entry["path"], fw.at("path"), instances, need)
            name = str(entry["name"]) if "name" in entry else None
            fields.append(profile_field(path, str(entry["format"]), name, rmodel.type, fields, fw))
        return fields
