"""A bad profile is refused with its file, line, field and fix: one test per kind of mistake.

The line a ProfileError names is checked against the line marked ``#<`` in each profile text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.profiles import ProfileError, build_agent_tree, load_profile, parse_profile

REPO = Path(__file__).resolve().parents[1]
HEAD = '''\
[server]
uri = "coap://127.0.0.1:5683"
endpoint = "test-{machine_id}"

[objects.3.0]
system = "device"
'''


def refused(tmp_path: Path, text: str, name: str = "pi.toml") -> ProfileError:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    return info.value


def marked_line(text: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if "#<" in line)


def check(tmp_path: Path, text: str, field: str, *words: str) -> ProfileError:
    error = refused(tmp_path, text)
    assert error.file == str(tmp_path / "pi.toml")
    assert error.line == marked_line(text), str(error)
    assert error.field == field, str(error)
    message = str(error)
    assert message.startswith(f"{tmp_path / 'pi.toml'}:{error.line}: {field}:" if field else
                              f"{tmp_path / 'pi.toml'}:{error.line}:")
    assert "; fix: " in message and error.fix
    for word in words:
        assert word in message, message
    return error


def test_toml_syntax_error_names_its_line(tmp_path: Path) -> None:
    text = HEAD + '\n[objects.3303.0.resources]\n5701 = "Cel\n#< unterminated string above\n'
    error = refused(tmp_path, text)
    assert error.line == marked_line(text) - 1
    assert "not valid TOML" in str(error)


def test_unknown_object(tmp_path: Path) -> None:
    check(tmp_path, HEAD + "[objects.3399.0.resources] #<\n5700 = 1.0\n", "objects.3399",
          "no object model for object 3399", "[models] folders")


def test_unknown_resource_id(tmp_path: Path) -> None:
    check(tmp_path, HEAD + "[objects.3303.0.resources]\n5700 = 1.0\n5799 = 2.0 #<\n",
          "objects.3303.0.resources.5799", "has no resource 5799", "5700 Sensor Value")


def test_binding_on_a_resource_the_model_lacks_in_a_table(tmp_path: Path) -> None:
    text = HEAD + '[objects.3347.0]\ngpio_input = { chip = "gpiochip0", line = 4 }\n\n' \
                  '[objects.3347.0.resources.5850] #<\nkind = "constant"\nvalue = true\n'
    check(tmp_path, text, "objects.3347.0.resources.5850", "Push button", "has no resource 5850")


def test_write_binding_on_a_read_only_resource(tmp_path: Path) -> None:
    text = HEAD + '[objects.3303.0.resources.5700]\nkind = "gpio_output" #<\nchip = "gpiochip0"\nline = 3\n'
    check(tmp_path, text, "objects.3303.0.resources.5700.kind", "write binding on a read-only resource",
          "5700 Sensor Value (R)")


def test_write_command_on_a_read_only_resource_points_at_the_key(tmp_path: Path) -> None:
    text = HEAD + '[objects.3303.0.resources.5700]\nkind = "command"\nread_command = ["echo", "1"]\n' \
                  'write_command = ["true"] #<\n'
    check(tmp_path, text, "objects.3303.0.resources.5700.write_command", "read-only")


def test_wrong_type_of_a_constant(tmp_path: Path) -> None:
    text = HEAD + '[objects.3303.0.resources.5700]\nkind = "constant"\nvalue = "hot" #<\n'
    check(tmp_path, text, "objects.3303.0.resources.5700.value", "'hot' is not a Float", "value = 21.5")


def test_wrong_type_of_a_plain_value(tmp_path: Path) -> None:
    text = HEAD + "[objects.3303.0.resources]\n5700 = 1.0\n5701 = 12 #<\n"
    check(tmp_path, text, "objects.3303.0.resources.5701", "12 is not a String")


def test_list_for_a_single_value_and_naive_time(tmp_path: Path) -> None:
    check(tmp_path, HEAD + "[objects.3303.0.resources]\n5700 = [1.0, 2.0] #<\n",
          "objects.3303.0.resources.5700", "holds one value")
    check(tmp_path, HEAD + '[objects.3303.0.resources]\n5700 = 1.0\n5518 = 2024-04-01T09:00:00 #<\n',
          "objects.3303.0.resources.5518", "has no time zone")


def test_unknown_binding_kind_suggests_the_near_miss(tmp_path: Path) -> None:
    text = HEAD + '[objects.3304.0.resources.5700]\nkind = "serail_line" #<\nport = "/dev/ttyUSB0"\n'
    error = check(tmp_path, text, "objects.3304.0.resources.5700.kind", "unknown binding kind 'serail_line'",
                  "did you mean 'serial_line'?", "use one of system, serial_line")
    assert error.reason.startswith("unknown binding kind")


def test_unknown_key_of_a_kind(tmp_path: Path) -> None:
    text = HEAD + '[objects.3304.0.resources]\n5700 = { kind = "serial_line", port = "/dev/x", patern = "H" } #<\n'
    check(tmp_path, text, "objects.3304.0.resources.5700.patern", "takes no key 'patern'", "did you mean 'pattern'")


def test_missing_required_key(tmp_path: Path) -> None:
    text = HEAD + '[objects.3304.0.resources.5700] #<\nkind = "serial_line"\npattern = "H=(.*)"\n'
    check(tmp_path, text, "objects.3304.0.resources.5700", "needs port")


def test_wrong_toml_type_of_a_key(tmp_path: Path) -> None:
    text = HEAD + '[objects.3304.0.resources.5700]\nkind = "command"\nread_command = "cat /x" #<\n'
    check(tmp_path, text, "objects.3304.0.resources.5700.read_command", "is not a command as a list of strings")


def test_hardware_config_error_from_a_constructor(tmp_path: Path) -> None:
    text = HEAD + '[objects.3304.0.resources.5700]\nkind = "serial_line"\nport = "/dev/x"\npattern = "H=(" #<\n'
    check(tmp_path, text, "objects.3304.0.resources.5700.pattern", "is not a regular expression")
    text = HEAD + '[objects.3303.0.resources]\n5700 = { kind = "simulated", source = "random_walk", ' \
                  'minimum = 5, maximum = 1 } #<\n'
    check(tmp_path, text, "objects.3303.0.resources.5700.minimum", "above maximum")
    text = HEAD + '[objects.3347.0]\ngpio_input = { chip = "gpiochip0", line = 3, bias = "up" } #<\n'
    check(tmp_path, text, "objects.3347.0.gpio_input.bias", "'up' is not a bias", "pull-up")


def test_simulated_source_on_the_wrong_type(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[objects.3303.0.resources]\n5700 = { kind = "simulated", source = "toggle" } #<\n',
          "objects.3303.0.resources.5700.source", "a toggle is a Boolean")
    check(tmp_path, HEAD + '[objects.3303.0.resources]\n5700 = { kind = "simulated", source = "ranom" } #<\n',
          "objects.3303.0.resources.5700.source", "did you mean 'random_walk'")


def test_executable_resource_needs_an_executing_binding(tmp_path: Path) -> None:
    check(tmp_path, HEAD + "[objects.3303.0.resources]\n5700 = 1.0\n5605 = 1 #<\n",
          "objects.3303.0.resources.5605", "is executable")
    check(tmp_path, HEAD + '[objects.3303.0.resources]\n5700 = { kind = "command", read_command = ["echo", "1"], '
                           'execute_command = ["true"] } #<\n',
          "objects.3303.0.resources.5700.execute_command", "is not executable")


def test_readable_resource_needs_a_read(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[objects.3311.0.resources]\n5850 = { kind = "command", write_command = ["true"] } #<\n',
          "objects.3311.0.resources.5850.kind", "cannot read it", "add read_command")


def test_unknown_fact_and_shape_mismatch(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[objects.3303.0.resources]\n5700 = { kind = "system", fact = "cpu_temp" } #<\n',
          "objects.3303.0.resources.5700.fact", "did you mean 'cpu_temperature'")
    check(tmp_path, HEAD + '[objects.3303.0.resources]\n5700 = { kind = "system", fact = "ip_addresses" } #<\n',
          "objects.3303.0.resources.5700.fact", "gives several values")


def test_security_and_server_objects_come_from_the_server_table(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[objects.1.0.resources] #<\n1 = 300\n', "objects.1", "built from [server]")


def test_ids_and_instances(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[objects.3303.resources] #<\n5700 = 1.0\n', "objects.3303.resources",
          "is not an instance id", "[objects.3303.0]")
    check(tmp_path, HEAD + '[objects.3.1] #<\nsystem = "device"\n', "objects.3.1", "single-instance")
    check(tmp_path, HEAD + '[objects.3303.0]\ndescription = "x" #<\n', "objects.3303.0.description",
          "unknown key 'description'")


def test_unknown_top_level_table_and_missing_server(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[sever] #<\nuri = "coap://x"\n', "sever", "did you mean 'server'")
    error = refused(tmp_path, '[objects.3.0]\nsystem = "device"\n')
    assert error.line == 1 and "no [server] table" in str(error)


def test_server_table_problems(tmp_path: Path) -> None:
    check(tmp_path, '[server]\nuri = "http://x" #<\n', "server.uri", "coap://")
    check(tmp_path, '[server]\nuri = "coap://x:5683"\nendpoint = "dev-{serail}" #<\n', "server.endpoint",
          "unknown placeholder {serail}")
    check(tmp_path, '[server]\nuri = "coaps://x:5684"\nendpoint = "a-{machine_id}"\npsk_identity = "d-1"\n'
                    'psk_key = "!!!" #<\n', "server.psk_key", "not base64", "Soracom console")
    check(tmp_path, '[server] #<\nuri = "coaps://x:5684"\npsk_identity = "d-1"\n', "server", "psk_key is missing")
    check(tmp_path, '[server]\nuri = "coap://x:5683"\nlwm2m_version = "1.2" #<\n', "server.lwm2m_version",
          "not supported")
    check(tmp_path, '[server]\nuri = "coap://x:5683"\nretry_ceiling = 0 #<\n', "server.retry_ceiling",
          "not 1 s to a day")


@pytest.mark.parametrize(("binding", "instead"), [("UQ", '"U"'), ("Q", '"U"'), ("UQS", '"US"')])
def test_queue_mode_is_refused_with_the_binding_to_use(tmp_path: Path, binding: str, instead: str) -> None:
    error = check(tmp_path, f'[server]\nuri = "coap://x:5683"\nbinding = "{binding}" #<\n', "server.binding",
                  "queue mode", "not supported")
    assert f"binding = {instead}" in error.fix


def test_serial_port_names(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[objects.3304.0.resources]\n5700 = { kind = "serial_line", port = "sim:gsp" } #<\n',
          "objects.3304.0.resources.5700.port", "did you mean 'gps'")
    check(tmp_path, HEAD + '[objects.3304.0.resources]\n5700 = { kind = "serial_line", port = "ttyUSB0" } #<\n',
          "objects.3304.0.resources.5700.port", "no serial port named 'ttyUSB0'", "/dev/ttyUSB0")
    check(tmp_path, '[serial.gps]\ndevice = "/dev/x"\nbaudrate = 0 #<\n' + HEAD, "serial.gps.baudrate",
          "is not a baud rate")


def test_gpio_line_used_twice(tmp_path: Path) -> None:
    text = HEAD + '[objects.3347.0]\ngpio_input = { chip = "gpiochip0", line = 3 }\n' \
                  '[objects.3311.0]\ngpio_output = { chip = "gpiochip0", line = 3 } #<\n'
    check(tmp_path, text, "objects.3311.0.gpio_output", "already used (line 8)")
    text = HEAD + '[objects.3200.0.resources]\n5500 = { kind = "gpio_input", chip = "c", line = 5 }\n' \
                  '5501 = { kind = "gpio_input", chip = "c", line = 5, active_low = true } #<\n'
    check(tmp_path, text, "objects.3200.0.resources.5501", "other settings (line 8)")


def test_models_folder(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[models]\nfolders = ["nowhere"] #<\n', "models.folders[0]", "no folder or file")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "40000.json").write_text('{"objectId": "x"}')
    check(tmp_path, HEAD + '[models]\nfolders = [\n  "bad", #<\n]\n', "models.folders[0]", "does not load")


def test_sigfox_table(tmp_path: Path) -> None:
    body = HEAD + '[objects.3303.0.resources]\n5700 = 1.0\n5701 = "Cel"\n[sigfox]\nport = "sim:sigfox"\nfields = [\n'
    temp = '  { path = "/3303/0/5700", format = "int:16", name = "temp" },\n'
    check(tmp_path, body + '  { path = "/3303/0/5700", format = "int:65" }, #<\n]\n', "sigfox.fields[0].format",
          "'int:65': 65 bits do not fit", "1..64 bits")
    check(tmp_path, body + temp + '  { path = "/3303/1/5700", format = "int:16" }, #<\n]\n', "sigfox.fields[1].path",
          "serves no resource /3303/1/5700")
    check(tmp_path, body + '  { path = "/3303/0/5701", format = "uint:8" }, #<\n]\n', "sigfox.fields[0].format",
          "String")
    check(tmp_path, body + '  { path = "/3303/0/5700", format = "float:64" },\n'
                           '  { path = "/3303/0/5700", format = "float:64", name = "b" }, #<\n]\n',
          "sigfox.fields[1].format", "b ends at byte 16, past the 12-byte Sigfox frame")
    check(tmp_path, body + temp + '  { path = "/3303/0/5700", format = "1:uint:8", name = "raw" }, #<\n]\n',
          "sigfox.fields[1].format", "raw overlaps temp at byte 1")
    # The name comes from `name`: a format written with one reads as a byte index gone wrong.
    check(tmp_path, body + '  { path = "/3303/0/5700", format = "temp:int:16" }, #<\n]\n',
          "sigfox.fields[0].format", "'temp' is neither a byte index nor a type", "[index:]type")
    check(tmp_path, body + '  { path = "/3303/0/5700", format = "\u00b2:int:8" }, #<\n]\n',
          "sigfox.fields[0].format", "is neither a byte index nor a type")


def test_sigfox_field_names(tmp_path: Path) -> None:
    body = HEAD + '[objects.3303.0.resources]\n5700 = 1.0\n[sigfox]\nport = "sim:sigfox"\nfields = [\n'
    check(tmp_path, body + '  { path = "/3303/0/5700", format = "int:16", name = "lat" }, #<\n]\n',
          "sigfox.fields[0].name", "'lat' is already a key of the Sigfox message", "pick another name")
    check(tmp_path, body + '  { path = "/3303/0/5700", format = "int:16", name = "temp" },\n'
                           '  { path = "/3303/0/5700", format = "int:8", name = "temp" }, #<\n]\n',
          "sigfox.fields[1].name", "two fields are named 'temp'")
    # Unnamed, the same resource twice gets the same default name: the entry is what to change.
    check(tmp_path, body + '  { path = "/3303/0/5700", format = "int:16" },\n'
                           '  { path = "/3303/0/5700", format = "int:8" }, #<\n]\n',
          "sigfox.fields[1]", "two fields are named 'r3303_0_5700'", "its own name")


async def test_missing_serial_port_is_refused_when_built_for_real(tmp_path: Path) -> None:
    text = HEAD + '[serial.sensor]\ndevice = "/dev/ttyNOPE0" #<\n' \
                  '[objects.3304.0.resources]\n5700 = { kind = "serial_line", port = "sensor", pattern = "H=(.*)" }\n'
    path = tmp_path / "pi.toml"
    path.write_text(text)
    profile = load_profile(path)  # loading never needs the port
    with pytest.raises(ProfileError) as info:
        await build_agent_tree(profile, simulate=False)
    assert info.value.line == marked_line(text)
    assert info.value.field == "serial.sensor.device"
    assert "no serial port /dev/ttyNOPE0" in str(info.value) and "optional = true" in str(info.value)
    # optional = true starts without it; in simulator mode a missing real port is left to answer 5.03.
    path.write_text(text.replace("#<", "\noptional = true"))
    tree = await build_agent_tree(load_profile(path), simulate=False)
    assert 3304 in tree.objects
    assert 3304 in (await build_agent_tree(profile, simulate=True)).objects


async def test_simulator_names_are_refused_outside_simulator_mode(tmp_path: Path) -> None:
    text = HEAD + '[objects.3304.0.resources]\n5700 = { kind = "serial_line", port = "sim:sensor" } #<\n'
    path = tmp_path / "pi.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        await build_agent_tree(load_profile(path), simulate=False)
    assert info.value.line == marked_line(text)
    assert "simulator's sensor device" in str(info.value) and "simulator mode" in info.value.fix


async def test_gpio_chip_missing_outside_simulator_mode(tmp_path: Path) -> None:
    text = HEAD + '[objects.3311.0]\ngpio_output = { chip = "gpiochip99", line = 3 } #<\n'
    path = tmp_path / "pi.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        await build_agent_tree(load_profile(path), simulate=False)
    assert info.value.line == marked_line(text)
    assert "gpiod" in str(info.value) or "no GPIO chip /dev/gpiochip99" in str(info.value)


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read the profile"):
        load_profile(tmp_path / "missing.toml")
    with pytest.raises(ProfileError, match="not UTF-8") as info:
        parse_profile(b'[server]\nuri = "\xff"\n', "x.toml")
    assert info.value.line == 2


# ---- no input crashes the loader ---------------------------------------------------------------

SIMULATOR = (REPO / "device_profiles" / "simulator.toml").read_bytes()


@given(st.binary(max_size=400))
@settings(max_examples=100)
def test_any_bytes_give_a_profile_or_a_profile_error(data: bytes) -> None:
    try:
        parse_profile(data, "fuzz.toml")
    except ProfileError as exc:
        assert exc.line >= 1


@given(st.data())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_simulator_profile_never_crashes(data: st.DataObject) -> None:
    text = bytearray(SIMULATOR)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(text) - 1))
        mutation = data.draw(st.sampled_from(["delete", "replace", "insert"]))
        char = data.draw(st.sampled_from(list(b'"=[]{},.0123456789abc-\n#')))
        if mutation == "delete":
            del text[at:at + data.draw(st.integers(1, 20))]
        elif mutation == "replace":
            text[at] = char
        else:
            text.insert(at, char)
    try:
        parse_profile(bytes(text), str(REPO / "device_profiles" / "simulator.toml"))
    except ProfileError as exc:
        assert exc.line >= 1 and exc.fix


def test_numbers_must_be_finite(tmp_path: Path) -> None:
    check(tmp_path, HEAD + '[objects.3200.0.resources]\n5500 = { kind = "simulated", source = "toggle", '
                           'interval = inf } #<\n', "objects.3200.0.resources.5500.interval", "not a finite number")
    check(tmp_path, HEAD + '[objects.3303.0.resources]\n5700 = nan #<\n', "objects.3303.0.resources.5700",
          "not a finite number")
    check(tmp_path, HEAD + '[objects.3303.0.resources]\n5700 = { kind = "constant", value = true } #<\n',
          "objects.3303.0.resources.5700.value", "true is not a Float")


def test_limits_are_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "pi.toml"
    path.write_text(HEAD + "\n[limits]\nmax_observations = 200\nupload_timeout = 5.5\n")
    limits = load_profile(path).limits
    assert (limits.max_observations, limits.upload_timeout, limits.upload_max_transfers) == (200, 5.5, 4)
    error = check(tmp_path, HEAD + "\n[limits]\nmax_observations = 0 #<\n", "limits.max_observations", "positive")
    assert "1000" in str(error)
    check(tmp_path, HEAD + "\n[limits]\nmax_observation = 5 #<\n", "limits.max_observation", "max_observations")
