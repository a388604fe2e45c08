"""The ``[telemetry.*]`` tables and the Sigfox downlink keys of a profile: what loads, and every mistake
refused with its file, line, field and fix."""

from __future__ import annotations

from pathlib import Path

from test_profile_errors import check

from agent.core.path import Path as LwPath
from agent.profiles import load_profile

HEAD = '''\
[server]
uri = "coap://127.0.0.1:5683"
endpoint = "test"
lwm2m_version = "1.0"

[objects.3303.0.resources]
5700 = { kind = "simulated", source = "sine", period = 60.0, amplitude = 3.0, offset = 20.0 }
5701 = "Cel"

[objects.3304.0.resources]
5700 = { kind = "value", value = 40.0 }

[objects.3311.0.resources]
5850 = { kind = "value", value = false }
5851 = { kind = "value", value = 10 }
'''


def test_destinations_load_with_names_ids_and_explicit_keys(tmp_path: Path) -> None:
    path = tmp_path / "pi.toml"
    path.write_text(HEAD + '''
[telemetry.harvest]
transport = "harvest_http"
resources = { temp = "/3303/0/5700" }
interval = 30
max_rows = 500
max_bytes = 100000
max_age = 3600
[telemetry.tcp]
transport = "harvest_tcp"
url = "127.0.0.1:9999"
resources = ["/3303/0/5700", "/3304/0/5700"]
keys = "ids"
[telemetry.uni]
transport = "unified_udp"
resources = ["/3303/0/5700", "/3311/0/5851"]
[telemetry.logs]
transport = "files"
command = ["journalctl", "-n", "100"]
path = "/logs/{name}/{datetime}.txt"
''')
    destinations = {d.name: d for d in load_profile(path).telemetry.destinations}
    harvest = destinations["harvest"]
    assert harvest.resources == (("temp", LwPath(3303, 0, 5700)),) and harvest.interval == 30
    assert (harvest.limits.max_rows, harvest.limits.max_bytes, harvest.limits.max_age) == (500, 100000, 3600)
    assert [k for k, _ in destinations["tcp"].resources] == ["3303/0/5700", "3304/0/5700"]
    assert destinations["tcp"].url == "127.0.0.1:9999"
    assert [k for k, _ in destinations["uni"].resources] == ["Sensor Value", "Dimmer"]
    logs = destinations["logs"]
    assert logs.file_source is not None and logs.file_source.command == ("journalctl", "-n", "100")


def test_send_with_lwm2m_1_0_is_refused(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[telemetry.send]\ntransport = "lwm2m_send"  #<\nresources = ["/3303/0/5700"]\n',
          "telemetry.send.transport", "LwM2M Send needs LwM2M 1.1", 'lwm2m_version = "1.1"')


def test_unknown_transport(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[telemetry.h]\ntransport = "harvest_htp"  #<\nresources = ["/3303/0/5700"]\n',
          "telemetry.h.transport", "did you mean 'harvest_http'")


def test_two_resources_with_one_name(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[telemetry.h]\ntransport = "harvest_http"\n'
          'resources = ["/3303/0/5700", "/3304/0/5700"]  #<\n', "telemetry.h.resources",
          "'Sensor Value'", 'keys = "ids"')


def test_a_resource_the_profile_does_not_serve(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[telemetry.h]\ntransport = "harvest_http"\nresources = { t = "/3303/1/5700" }  #<\n',
          "telemetry.h.resources.t", "serves no resource /3303/1/5700")


def test_a_key_of_another_transport(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[telemetry.h]\ntransport = "harvest_http"\nresources = ["/3303/0/5700"]\n'
          'path = "/x.csv"  #<\n', "telemetry.h.path", "for transport files")


def test_a_socket_url_without_port(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[telemetry.h]\ntransport = "harvest_udp"\nresources = ["/3303/0/5700"]\n'
          'url = "harvest.soracom.io"  #<\n', "telemetry.h.url", "host:port")


def test_a_resource_key_that_clashes_with_the_id(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[telemetry.h]\ntransport = "harvest_http"\nresources = { id = "/3303/0/5700" }  #<\n',
          "telemetry.h.resources", "must differ")


def test_a_destination_with_nothing_to_send(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[telemetry.h]  #<\ntransport = "harvest_http"\n', "telemetry.h", "sends no resources")


def test_a_bad_limit(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[telemetry.h]\ntransport = "harvest_http"\nresources = ["/3303/0/5700"]\n'
          'max_rows = 0  #<\n', "telemetry.h.max_rows", "not a positive whole number")


def test_an_unknown_file_path_placeholder(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[telemetry.f]\ntransport = "files"\nfile = "/var/log/syslog"\n'
          'path = "/logs/{host}.txt"  #<\n', "telemetry.f.path", "{host}")


SIGFOX = '''
[sigfox]
port = "/dev/ttyUSB1"
interval = 900
fields = [{ path = "/3303/0/5700", format = "int:16:/100", name = "temp" }]
downlink_every = 3
'''


def test_sigfox_downlink_maps_to_writes_and_an_execute(tmp_path: Path) -> None:
    path = tmp_path / "pi.toml"
    path.write_text(HEAD + SIGFOX + 'downlink = [{ path = "/3311/0/5850", format = "0:bool:7", name = "on" },\n'
                    '  { path = "/3311/0/5851", format = "1:uint:8", name = "dim" }]\n')
    sigfox = load_profile(path).sigfox
    assert sigfox is not None and sigfox.downlink_every == 3
    assert [f.path for f in sigfox.downlink] == [LwPath(3311, 0, 5850), LwPath(3311, 0, 5851)]


def test_sigfox_downlink_to_a_read_only_resource(tmp_path: Path) -> None:
    check(tmp_path, HEAD + SIGFOX + 'downlink = [{ path = "/3303/0/5700", format = "int:16" }]  #<\n',
          "sigfox.downlink[0].path", "not a writable")


def test_sigfox_downlink_longer_than_8_bytes(tmp_path: Path) -> None:
    check(tmp_path, HEAD + SIGFOX + 'downlink = [{ path = "/3311/0/5851", format = "uint:64", name = "a" },  #<\n'
          '  { path = "/3311/0/5850", format = "bool", name = "b" }]\n', "sigfox.downlink", "take 9 bytes")


async def test_profile_check_lists_the_destinations(tmp_path: Path) -> None:
    from support import run_cli

    path = tmp_path / "pi.toml"
    path.write_text(HEAD + '[telemetry.harvest]\ntransport = "harvest_http"\nresources = { temp = "/3303/0/5700" }\n'
                    'interval = 30\n')
    code, out = await run_cli("profile", "check", str(path))
    assert code == 0, out
    assert "telemetry harvest: harvest_http every 30 s: temp=/3303/0/5700" in out
