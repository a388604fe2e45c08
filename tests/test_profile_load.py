"""Loading profiles: the shipped ones, endpoint names, server settings, values, Sigfox fields, the tree print."""

from __future__ import annotations

import datetime
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.client.agent import ClientSettings
from agent.client.registration import RegistrationSettings
from agent.core.path import Path as LwPath
from agent.profiles import (
    ProfileError,
    build_agent_tree,
    close_tree,
    default_endpoint_name,
    describe_tree,
    load_profile,
    parse_profile,
    resolve_endpoint_template,
    shipped_profile,
    simulated_hardware,
)
from agent.profiles.endpoint import TemplateError
from agent.simulator.devices import SimulatedHardware
from agent.telemetry.sigfox import layout, pack_frame, parse_parser_format, unpack_frame

REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "device_profiles"
HOST = "".join(c if c.isalnum() or c in "._-" else "-" for c in socket.gethostname()).strip("-")


# ---- the shipped profiles ------------------------------------------------------------------------

def test_simulator_profile_loads_with_every_kind_of_binding() -> None:
    assert shipped_profile("simulator") == PROFILES / "simulator.toml"
    profile = load_profile(shipped_profile("simulator"))
    # Its only warning is the one it earns on purpose: Sigfox every 10 s, to show frames and downlinks at once.
    assert [w for w in profile.warnings if "sigfox.interval: an uplink every 10 s" not in w] == []
    kinds = {b.kind for spec in profile.instances for b in spec.resources.values()}
    shortcuts = {spec.shortcut.kind for spec in profile.instances if spec.shortcut is not None}
    assert {"simulated", "serial_line", "serial_query", "file", "command", "constant", "value"} <= kinds
    assert {"system", "nmea", "gpio_input", "gpio_output"} <= shortcuts
    served = {(s.object_id, s.instance_id) for s in profile.instances}
    assert {(3, 0), (4, 0), (6, 0), (3303, 0), (3304, 0), (3347, 0), (3311, 0), (30000, 0)} <= served
    assert profile.server.uri == "coap://127.0.0.1:5683" and profile.server.lwm2m_version == "1.1"
    assert profile.sigfox is not None and profile.sigfox.port == "sim:sigfox"
    assert profile.sigfox.parser_format() == "temp:0:int:16:/100 hum:2:uint:8 presses:3:uint:16"


def test_raspberry_pi_profile_loads_without_its_hardware() -> None:
    # /dev/ttyUSB0 and /dev/gpiochip0 do not exist here: loading must not need them.
    profile = load_profile(PROFILES / "raspberry-pi.toml")
    assert profile.serial_ports["sensor"].device == "/dev/ttyUSB0"
    assert profile.server.bootstrap_uri == "coap://bootstrap.soracom.io:5683" and profile.server.uri is None
    assert profile.instance(3347, 0) is not None and profile.instance(3311, 0) is not None
    shortcut = profile.instance(3303, 0).shortcut  # type: ignore[union-attr]
    assert shortcut is not None and shortcut.value == "cpu_temperature"


def test_gateway_profile_loads_with_gps_and_sigfox() -> None:
    profile = load_profile(PROFILES / "gateway-gps-sigfox.toml")
    assert profile.instance(6, 0).shortcut.kind == "nmea"  # type: ignore[union-attr]
    assert profile.server.psk_identity == b"d-0123456789abcdefghij"
    assert profile.server.psk_key is not None and len(profile.server.psk_key) == 16
    assert repr(profile.server.psk_key) not in repr(profile.server)  # the key stays out of logs
    assert profile.server.security_mode == 0
    assert profile.sigfox is not None and profile.sigfox.frame_length == 12
    assert profile.server.endpoint.startswith("gw-")


async def test_describe_tree_of_the_simulator_profile() -> None:
    profile = load_profile(PROFILES / "simulator.toml")
    sim = SimulatedHardware(press_interval=None)
    try:
        tree = await build_agent_tree(profile, simulate=True, sim=sim)
        assert simulated_hardware(tree) is sim
        text = describe_tree(tree)
        lines = text.splitlines()
        assert "/3304  Humidity" in lines
        row = next(line for line in lines if line.strip().startswith("/3304/0/5700"))
        assert "Sensor Value" in row and "serial_line" in row and "sim:sensor (/dev/pts/" in row and "H=" in row
        assert any("/3/0/4" in line and "reboot" in line and "simulator: de-register, exit" in line for line in lines)
        assert any("/3311/0/5850" in line and "gpio_output" in line and "gpiochip0 line 27" in line for line in lines)
        assert any("/0/0/5" in line and "(secret)" in line for line in lines)
        await close_tree(tree)
    finally:
        await sim.close()


def test_server_settings_for_the_client() -> None:
    profile = load_profile(PROFILES / "simulator.toml")
    reg = profile.server.registration_settings(endpoint="sim-1")
    assert isinstance(reg, RegistrationSettings)
    assert (reg.server_uri, reg.endpoint, reg.lifetime, reg.binding, reg.lwm2m_version) == \
        ("coap://127.0.0.1:5683", "sim-1", 60, "U", "1.1")
    client = profile.server.client_settings(reg, bind_host="127.0.0.1")
    assert isinstance(client, ClientSettings) and client.bind_host == "127.0.0.1" and client.bootstrap_uri is None
    pi = load_profile(PROFILES / "raspberry-pi.toml").server.client_settings()
    assert pi.bootstrap_uri == "coap://bootstrap.soracom.io:5683"


async def test_server_objects_built_from_the_server_table(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[server]\nuri = "coaps://h:5684"\nbootstrap = "coap://b:5683"\nendpoint = "x-{machine_id}"\n'
                    'psk_identity = "d-abc"\npsk_key = "AAECAw=="\nlifetime = 120\n'
                    '[objects.3.0]\nsystem = "device"\n')
    tree = await build_agent_tree(load_profile(path), simulate=False)

    async def value(*path: int) -> object:
        # Security resources are not readable by a server: look at the bindings themselves.
        return await tree.binding(LwPath(*path))[1].read()

    assert await value(0, 0, 0) == "coaps://h:5684"
    assert await value(0, 0, 2) == 0  # pre-shared key
    assert await value(0, 0, 3) == b"d-abc"
    assert await value(0, 0, 5) == b"\x00\x01\x02\x03"
    assert await value(0, 1, 1) is True and await value(0, 1, 0) == "coap://b:5683"
    assert set(tree.objects[0].instances) == {0, 1}
    assert await value(1, 0, 1) == 120
    await close_tree(tree)


# ---- values ------------------------------------------------------------------------------------------

async def test_values_of_every_type(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('''
[server]
uri = "coap://h:5683"
endpoint = "x-{machine_id}"
[objects.3.0.resources]
0 = "ACME"
7 = [3300, 5000]
13 = 2024-04-01T09:00:00+09:00
16 = "U"
4 = { kind = "reboot" }
11 = { kind = "constant", value = { "0" = 0 } }
[objects.3303.0.resources]
5700 = 21
5750 = "room"
[objects.3200.0.resources]
5500 = true
5501 = { kind = "simulated", source = "counter", start = 5 }
''')
    profile = load_profile(path)
    tree = await build_agent_tree(profile, simulate=True)
    try:
        values = {str(rv.path): rv.value for rv in await tree.read(LwPath(3, 0))}
        assert values["/3/0/0"] == "ACME"
        assert values["/3/0/7/0"] == 3300 and values["/3/0/7/1"] == 5000
        assert values["/3/0/13"] == int(datetime.datetime(2024, 4, 1, tzinfo=datetime.UTC).timestamp())
        assert values["/3/0/11/0"] == 0
        temperature = (await tree.read(LwPath(3303, 0, 5700)))[0].value
        assert temperature == 21.0 and isinstance(temperature, float)
        # A plain value on a writable resource is the server's to change; on a read-only one it is fixed.
        await tree.binding(LwPath(3303, 0, 5750))[1].write("kitchen")
        assert (await tree.read(LwPath(3303, 0, 5750)))[0].value == "kitchen"
        assert (await tree.read(LwPath(3200, 0, 5501)))[0].value == 5
    finally:
        await close_tree(tree)


# ---- endpoint names -------------------------------------------------------------------------------

def fake_root(tmp_path: Path, *, serial: str | None = None, mac: str | None = None, assign: str = "0",
              machine_id: str | None = None) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    if serial is not None:
        (root / "proc/device-tree").mkdir(parents=True)
        (root / "proc/device-tree/serial-number").write_bytes(serial.encode() + b"\x00")
    if mac is not None:
        (root / "proc/net").mkdir(parents=True, exist_ok=True)
        (root / "proc/net/route").write_text(
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
            "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n")
        (root / "sys/class/net/wlan0").mkdir(parents=True)
        (root / "sys/class/net/wlan0/address").write_text(mac + "\n")
        (root / "sys/class/net/wlan0/addr_assign_type").write_text(assign + "\n")
    if machine_id is not None:
        (root / "etc").mkdir()
        (root / "etc/machine-id").write_text(machine_id + "\n")
    return root


def test_default_endpoint_is_the_hardware_serial(tmp_path: Path) -> None:
    name = default_endpoint_name(root=fake_root(tmp_path, serial="10000000abcdef01", mac="b8:27:eb:12:34:56"))
    assert name.name == "10000000abcdef01" and name.warning is None


def test_default_endpoint_is_hostname_and_mac_without_a_serial(tmp_path: Path) -> None:
    name = default_endpoint_name(root=fake_root(tmp_path, mac="B8:27:EB:12:34:56"))
    assert name.name == f"{HOST}-b827eb123456" and name.warning is None


def test_random_mac_gives_a_warning(tmp_path: Path) -> None:
    name = default_endpoint_name(root=fake_root(tmp_path, mac="12:34:56:78:9a:bc", assign="1"))
    assert name.name.endswith("-123456789abc")
    assert name.warning is not None and "random" in name.warning and "every boot" in name.warning


def test_fallbacks_warn(tmp_path: Path) -> None:
    name = default_endpoint_name(root=fake_root(tmp_path, machine_id="0123abcd"))
    assert name.name == f"{HOST}-0123abcd" and name.warning is not None and "cloned" in name.warning
    bare = default_endpoint_name(root=tmp_path / "empty")
    assert bare.warning is not None
    assert bare.name == HOST or bare.name.startswith("lwm2m-")


def test_endpoint_templates(tmp_path: Path) -> None:
    root = fake_root(tmp_path, serial="0000abcd", mac="b8:27:eb:00:00:01", machine_id="feed")
    assert resolve_endpoint_template("pi-{serial}", root=root).name == "pi-0000abcd"
    both = resolve_endpoint_template("{hostname}-{mac}-{machine_id}", root=root)
    assert both.name == f"{HOST}-b827eb000001-feed" and both.warning is None
    only_host = resolve_endpoint_template("dev-{hostname}", root=root)
    assert only_host.warning is not None and "hostname alone" in only_host.warning
    fixed = resolve_endpoint_template("device-1", root=root)
    assert fixed.warning is not None and "same device" in fixed.warning
    with pytest.raises(TemplateError, match="this machine does not have"):
        resolve_endpoint_template("pi-{serial}", root=tmp_path / "empty")
    with pytest.raises(TemplateError, match="unknown placeholder"):
        resolve_endpoint_template("pi-{ip}", root=root)
    with pytest.raises(TemplateError, match="braces"):
        resolve_endpoint_template("pi-{serial", root=root)


def test_endpoint_warning_lands_in_the_profile_warnings(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[server]\nuri = "coap://h:5683"\nendpoint = "gateway"\n[objects.3.0]\nsystem = "device"\n')
    profile = load_profile(path)
    assert profile.server.endpoint == "gateway"
    assert profile.warnings and profile.warnings[0].startswith(f"{path}:3: server.endpoint:")
    assert "same device" in profile.warnings[0]


def test_missing_device_object_and_mandatory_resources_warn(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[server]\nuri = "coap://h:5683"\nendpoint = "a-{machine_id}"\n'
                    '[objects.3303.0.resources]\n5701 = "Cel"\n')
    warnings = load_profile(path).warnings
    assert any("Device object (3)" in w for w in warnings)
    assert any("5700 Sensor Value" in w and ":4:" in w for w in warnings)


# ---- Sigfox fields ---------------------------------------------------------------------------------

SIGFOX_HEAD = """\
[server]
uri = "coap://127.0.0.1:5683"
endpoint = "test-{machine_id}"

[objects.3.0]
system = "device"
[objects.3303.0.resources]
5700 = 21.5
5701 = "Cel"
[objects.3342.0.resources]
5500 = true
[objects.3342.1.resources]
5500 = false

[sigfox]
port = "sim:sigfox"
fields = [
"""


async def test_sigfox_fields_pack_what_the_console_format_decodes(tmp_path: Path) -> None:
    path = tmp_path / "sigfox.toml"
    path.write_text(SIGFOX_HEAD + """\
  { path = "/3303/0/5700", format = "int:16:/100", name = "temp" },
  { path = "/3342/0/5500", format = "bool", name = "door" },
  { path = "/3342/1/5500", format = "bool" },
  { path = "/3303/0/5701", format = "6:char:3", name = "unit" },
]
""")
    sigfox = load_profile(path).sigfox
    assert sigfox is not None and sigfox.interval == 900
    # Index-less bools share a byte from bit 7 down; an index in the format places the field.
    console = sigfox.parser_format()
    assert console == "temp:0:int:16:/100 door:2:bool:7 r3342_1_5500:2:bool:6 unit:6:char:3"
    assert sigfox.frame_length == 9
    assert [(slot.field.name, slot.byte, slot.bit) for slot in sigfox.layout()] == [
        ("temp", 0, 7), ("door", 2, 7), ("r3342_1_5500", 2, 6), ("unit", 6, 7)]
    fields = sigfox.telemetry_fields()
    assert [field.path for field in fields] == [LwPath(3303, 0, 5700), LwPath(3342, 0, 5500),
                                                LwPath(3342, 1, 5500), LwPath(3303, 0, 5701)]
    tree = await build_agent_tree(load_profile(path), simulate=False)
    try:
        values = {field.name: (await tree.read(field.path))[0].value for field in fields}
    finally:
        await close_tree(tree)
    frame = pack_frame(fields, values)
    assert frame.hex() == "08668000000043656c"
    assert unpack_frame(parse_parser_format(console), frame) == {
        "temp": 21.5, "door": True, "r3342_1_5500": False, "unit": "Cel"}


def test_gateway_sigfox_fields_fill_the_frame() -> None:
    sigfox = load_profile(PROFILES / "gateway-gps-sigfox.toml").sigfox
    assert sigfox is not None
    assert sigfox.parser_format() == ("latitude:0:float:32 longitude:4:float:32 speed:8:uint:16:/10 "
                                      "temp:10:int:16:/100")


def _toml_string(text: str) -> str:
    return '"' + "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else f"\\U{ord(c):08X}"
                         for c in text) + '"'


_RESOURCE_OF_TYPE = {"bool": "/3342/0/5500", "char": "/3303/0/5701"}


@st.composite
def _sigfox_entries(draw: st.DrawFn) -> tuple[str, str]:
    """A resource path and a format: mostly the syntax's own pieces, right and wrong (so that many
    load), sometimes a resource of another type, sometimes any text at all."""
    kind = draw(st.sampled_from(["int", "uint", "float", "bool", "char"]))
    resource = draw(st.just(_RESOURCE_OF_TYPE.get(kind, "/3303/0/5700"))
                    | st.sampled_from(["/3303/0/5700", "/3342/0/5500", "/3303/0/5701"]))
    pieces = (draw(st.sampled_from(["", "", "", ":", "1:", "4:", "0:", "12:"])) + kind
              + draw(st.sampled_from(["", "", ":8", ":16", ":12", ":32", ":64", ":65", ":7", ":3"]))
              + draw(st.sampled_from(["", "", "", ":little-endian", ":big-endian"]))
              + draw(st.sampled_from(["", "", "", ":/100", ":/0.5", ":/0"])))
    return resource, draw(st.text(max_size=20)) if draw(st.integers(0, 3)) == 0 else pieces


@given(_sigfox_entries())
@settings(max_examples=200)
def test_any_sigfox_format_loads_as_the_console_reads_it_or_is_refused_on_its_line(
        entry: tuple[str, str]) -> None:
    resource, text = entry
    body = SIGFOX_HEAD + '  { path = "/3303/0/5700", format = "int:8", name = "first" },\n' \
        f'  {{ path = "{resource}", format = {_toml_string(text)}, name = "second" }},\n]\n'
    try:
        sigfox = parse_profile(body.encode(), "pi.toml").sigfox
    except ProfileError as exc:
        line = len(SIGFOX_HEAD.splitlines()) + 2
        assert (exc.file, exc.line, exc.field) == ("pi.toml", line, "sigfox.fields[1].format"), str(exc)
        assert exc.reason and exc.fix
    else:
        assert sigfox is not None and 2 <= sigfox.frame_length <= 12
        console = parse_parser_format(sigfox.parser_format())
        assert [(s.byte, s.start, s.field.bits, s.field.type, s.field.divisor, s.field.little_endian)
                for s in layout(console)] == [
            (s.byte, s.start, s.field.bits, s.field.type, s.field.divisor, s.field.little_endian)
            for s in sigfox.layout()]


def test_profile_error_format() -> None:
    error = ProfileError("device_profiles/pi.toml", 23, "objects.3303.0.resources.5700.kind",
                         "unknown binding kind 'serail_line'", "use one of system, serial_line")
    assert str(error) == ("device_profiles/pi.toml:23: objects.3303.0.resources.5700.kind: unknown binding kind "
                          "'serail_line'; fix: use one of system, serial_line")


async def test_extra_model_folder_relative_to_the_profile(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "40000-valve.json").write_text('''{
      "objectId": 40000, "name": "Valve", "multiple": true, "mandatory": false, "version": "1.0",
      "lwm2mVersion": "1.0", "urn": "urn:oma:lwm2m:x:40000", "description": "",
      "resources": [{"id": 0, "name": "Open", "operations": "RW", "multiple": false, "mandatory": true,
                     "type": "BOOLEAN", "rangeEnumeration": "", "units": "", "description": ""}]
    }''')
    path = tmp_path / "valve.toml"
    path.write_text('[server]\nuri = "coap://h:5683"\nendpoint = "v-{machine_id}"\n[models]\nfolders = ["models"]\n'
                    '[objects.3.0]\nsystem = "device"\n[objects.40000.3.resources]\n0 = false\n')
    profile = load_profile(path)
    assert profile.model_folders == [folder] and profile.models.object(40000).name == "Valve"
    tree = await build_agent_tree(profile, simulate=False)
    await tree.write(LwPath(40000, 3, 0), [], replace=False)
    assert (await tree.read(LwPath(40000, 3, 0)))[0].value is False
    await close_tree(tree)
