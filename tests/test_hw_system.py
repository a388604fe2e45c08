"""Linux system facts, clock, reboot and error codes: on a fake /proc-/sys tree and on this machine."""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.core.errors import BadRequest, ServiceUnavailable
from agent.core.model import ResourceType
from agent.hardware import (
    FACTS,
    CurrentTime,
    DeviceError,
    ErrorCodes,
    FactoryReset,
    HardwareConfigError,
    Reboot,
    ResetErrorCodes,
    SystemClock,
    SystemFact,
    Timezone,
    UtcOffset,
)
from agent.hardware.clock import parse_utc_offset
from agent.hardware.modem import parse_modem_json

NO_MODEM: tuple[str, ...] = ()


def put(root: Path, relative: str, content: str | bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


@pytest.fixture
def pi_root(tmp_path: Path) -> Path:
    """A Raspberry Pi 4 on Wi-Fi with a UPS battery, as its /proc, /sys and /etc look."""
    root = tmp_path / "pi"
    put(root, "proc/device-tree/model", b"Raspberry Pi 4 Model B Rev 1.4\x00")
    put(root, "proc/device-tree/compatible", b"raspberrypi,4-model-b\x00brcm,bcm2711\x00")
    put(root, "proc/device-tree/serial-number", b"10000000a1b2c3d4\x00")
    put(root, "proc/cpuinfo", "processor\t: 0\nHardware\t: BCM2835\nRevision\t: c03114\nSerial\t\t: 10000000a1b2c3d4\n")
    put(root, "etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n')
    put(root, "proc/sys/kernel/osrelease", "6.6.31+rpt-rpi-v8\n")
    put(root, "proc/meminfo", "MemTotal:        3885032 kB\nMemFree:          312344 kB\n"
                              "MemAvailable:    2977812 kB\nBuffers:           61348 kB\n")
    put(root, "proc/uptime", "12345.67 45678.90\n")
    put(root, "sys/class/thermal/thermal_zone0/type", "cpu-thermal\n")
    put(root, "sys/class/thermal/thermal_zone0/temp", "48312\n")
    battery = "sys/class/power_supply/BAT0/"
    put(root, battery + "type", "Battery\n")
    put(root, battery + "present", "1\n")
    put(root, battery + "capacity", "76\n")
    put(root, battery + "status", "Discharging\n")
    put(root, battery + "health", "Good\n")
    put(root, battery + "voltage_now", "3987000\n")
    put(root, battery + "current_now", "412000\n")
    put(root, "sys/class/power_supply/AC/type", "Mains\n")
    put(root, "sys/class/power_supply/AC/online", "0\n")
    put(root, "sys/class/net/lo/type", "772\n")
    put(root, "sys/class/net/eth0/type", "1\n")
    put(root, "sys/class/net/wlan0/type", "1\n")
    (root / "sys/class/net/wlan0/wireless").mkdir(parents=True)
    put(root, "sys/class/net/wwan0/type", "519\n")
    put(root, "sys/class/net/wwan0/uevent", "DEVTYPE=wwan\nINTERFACE=wwan0\n")
    put(root, "proc/net/route",
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "wlan0\t00000000\t0100A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
        "wwan0\t00000000\t0100640A\t0003\t0\t0\t700\t00000000\t0\t0\t0\n"
        "wlan0\t0000A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n"
        "wwan0\t0000640A\t00000000\t0001\t0\t0\t700\t0000FFFF\t0\t0\t0\n")
    put(root, "proc/net/fib_trie",
        "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n"
        "     +-- 127.0.0.0/8 2 0 2\n        |-- 127.0.0.1\n           /32 host LOCAL\n"
        "     +-- 192.168.0.0/24 2 0 2\n        |-- 192.168.0.0\n           /24 link UNICAST\n"
        "        |-- 192.168.0.23\n           /32 host LOCAL\n"
        "        |-- 192.168.0.255\n           /32 link BROADCAST\n"
        "     |-- 10.100.7.9\n        /32 host LOCAL\n"
        "Local:\n     |-- 192.168.0.23\n           /32 host LOCAL\n")
    put(root, "proc/net/if_inet6",
        "00000000000000000000000000000001 01 80 10 80       lo\n"
        "20010db8000000000000000000000017 03 40 00 00    wlan0\n"
        "fe80000000000000ba27ebfffe000001 03 40 20 80    wlan0\n")
    put(root, "proc/net/ipv6_route",
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "fe800000000000000000000000000001 00000400 00000001 00000000 00000003    wlan0\n")
    put(root, "proc/net/wireless",
        "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n"
        " face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n"
        " wlan0: 0000   58.  -52.  -256        0      0      0      0     11        0\n")
    put(root, "etc/timezone", "Asia/Tokyo\n")
    return root


@pytest.fixture
def pc_root(tmp_path: Path) -> Path:
    """A PC gateway: DMI instead of a device tree, no battery, no thermal zone."""
    root = tmp_path / "pc"
    put(root, "sys/class/dmi/id/sys_vendor", "Advantech\n")
    put(root, "sys/class/dmi/id/product_name", "UNO-2271G\n")
    put(root, "sys/class/dmi/id/product_serial", "To be filled by O.E.M.\n")
    put(root, "sys/class/dmi/id/board_serial", "AKB1234567\n")
    put(root, "sys/class/dmi/id/product_version", "V2\n")
    put(root, "proc/cpuinfo", "processor\t: 0\nmodel name\t: Intel(R) Atom(TM)\n")
    put(root, "usr/lib/os-release", 'NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 24.04 LTS"\n')
    return root


async def fact(root: Path, name: str, **kwargs: Any) -> Any:
    return await SystemFact(fact=name, root=root, modem_command=NO_MODEM, **kwargs).read()


async def test_device_facts_on_a_raspberry_pi(pi_root: Path) -> None:
    assert await fact(pi_root, "manufacturer") == "Raspberry Pi"
    assert await fact(pi_root, "model") == "Raspberry Pi 4 Model B Rev 1.4"
    assert await fact(pi_root, "serial_number") == "10000000a1b2c3d4"
    assert await fact(pi_root, "hardware_version") == "c03114"
    assert await fact(pi_root, "firmware_version") == "Debian GNU/Linux 12 (bookworm)"
    assert await fact(pi_root, "software_version") == "6.6.31+rpt-rpi-v8"
    assert await fact(pi_root, "memory_total") == 3885032
    assert await fact(pi_root, "memory_free") == 2977812
    assert await fact(pi_root, "uptime") == 12345
    assert await fact(pi_root, "cpu_temperature") == pytest.approx(48.312)
    assert await fact(pi_root, "cpu_temperature", rtype=ResourceType.INTEGER) == 48


async def test_power_facts(pi_root: Path) -> None:
    # Both the mains adapter and the battery are available power sources, whichever is in use.
    assert await fact(pi_root, "power_sources") == {0: 6, 1: 1}
    assert await fact(pi_root, "battery_level") == 76
    assert await fact(pi_root, "battery_status") == 0
    assert await fact(pi_root, "power_source_voltage") == {0: 3987}
    assert await fact(pi_root, "power_source_current") == {0: 412}
    put(pi_root, "sys/class/power_supply/BAT0/status", "Charging\n")
    assert await fact(pi_root, "battery_status") == 1
    put(pi_root, "sys/class/power_supply/BAT0/status", "Discharging\n")
    put(pi_root, "sys/class/power_supply/BAT0/capacity", "7\n")
    assert await fact(pi_root, "battery_status") == 4
    put(pi_root, "sys/class/power_supply/BAT0/health", "Dead\n")
    assert await fact(pi_root, "battery_status") == 3


async def test_a_pc_gateway_without_battery_or_thermal_zone(pc_root: Path) -> None:
    assert await fact(pc_root, "manufacturer") == "Advantech"
    assert await fact(pc_root, "model") == "UNO-2271G"
    # The placeholder product serial identifies nothing; the board serial does.
    assert await fact(pc_root, "serial_number") == "AKB1234567"
    assert await fact(pc_root, "hardware_version") == "V2"
    assert await fact(pc_root, "firmware_version") == "Ubuntu 24.04 LTS"
    assert await fact(pc_root, "power_sources") == {0: 0}  # DC power: nothing the kernel can see
    assert await fact(pc_root, "battery_status") == 5  # not installed
    for missing in ("battery_level", "cpu_temperature", "memory_free", "uptime", "ip_addresses"):
        with pytest.raises(ServiceUnavailable) as excinfo:
            await fact(pc_root, missing)
        assert str(pc_root) in excinfo.value.message, missing


async def test_network_facts(pi_root: Path) -> None:
    assert await fact(pi_root, "interfaces") == {0: "eth0", 1: "wlan0", 2: "wwan0"}
    assert await fact(pi_root, "network_bearer") == 21  # WLAN: the default route with the lowest metric
    assert await fact(pi_root, "network_bearer", interface="wwan0") == 6
    assert await fact(pi_root, "network_bearer", interface="eth0") == 41
    assert await fact(pi_root, "available_network_bearers") == {0: 41, 1: 21, 2: 6}
    assert await fact(pi_root, "ip_addresses") == {0: "192.168.0.23", 1: "10.100.7.9", 2: "2001:db8::17"}
    assert await fact(pi_root, "ip_addresses", interface="wwan0") == {0: "10.100.7.9"}
    assert await fact(pi_root, "router_ip_addresses") == {0: "192.168.0.1", 1: "10.100.0.1", 2: "fe80::1"}
    assert await fact(pi_root, "router_ip_addresses", interface="wwan0") == {0: "10.100.0.1"}
    assert await fact(pi_root, "radio_signal_strength") == -52
    assert await fact(pi_root, "link_quality") == 58
    with pytest.raises(ServiceUnavailable) as excinfo:
        await fact(pi_root, "radio_signal_strength", interface="wwan0")
    assert "modem" in excinfo.value.message
    with pytest.raises(ServiceUnavailable):
        await fact(pi_root, "smcc")


async def test_thermal_zone_can_be_chosen(pi_root: Path) -> None:
    put(pi_root, "sys/class/thermal/thermal_zone1/type", "gpu-thermal\n")
    put(pi_root, "sys/class/thermal/thermal_zone1/temp", "51000\n")
    assert await fact(pi_root, "cpu_temperature", thermal_zone="gpu-thermal") == 51.0
    assert await fact(pi_root, "cpu_temperature", thermal_zone="thermal_zone0") == pytest.approx(48.312)
    with pytest.raises(ServiceUnavailable) as excinfo:
        await fact(pi_root, "cpu_temperature", thermal_zone="nvme")
    assert "gpu-thermal" in excinfo.value.message  # says which zones exist


def test_modem_json_parsing() -> None:
    status = ('{"modem": {"generic": {"signal-quality": {"recent": "yes", "value": "67"},'
              ' "access-technologies": ["lte"]}, "3gpp": {"operator-code": "44010"}}}')
    signal = '{"modem": {"signal": {"gsm": {"rssi": "--"}, "lte": {"rsrp": "-97.00", "rssi": "-71.00"}}}}'
    parsed = parse_modem_json(status, signal)
    assert (parsed.signal_quality, parsed.bearer, parsed.operator_code, parsed.rssi_dbm) == (67, 6, "44010", -71)
    bare = parse_modem_json('{"modem": {"generic": {"signal-quality": {"value": "--"}}}}', None)
    assert (bare.signal_quality, bare.bearer, bare.operator_code, bare.rssi_dbm) == (None, None, None, None)


async def test_modem_facts_through_an_mmcli_program(pi_root: Path, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    mmcli = tmp_path / "mmcli"
    mmcli.write_text(
        "#!/bin/sh\n"
        f"echo \"$*\" >> {calls}\n"
        'case "$*" in\n'
        '  *--signal-get*) echo \'{"modem": {"signal": {"umts": {"rssi": "-83.00"}}}}\' ;;\n'
        '  *) echo \'{"modem": {"generic": {"signal-quality": {"value": "41"}, "access-technologies": ["hsdpa"]},'
        ' "3gpp": {"operator-code": "44020"}}}\' ;;\n'
        "esac\n"
    )
    mmcli.chmod(0o755)
    command = [str(mmcli), "-m", "any"]

    async def modem_fact(name: str) -> Any:
        return await SystemFact(fact=name, root=pi_root, interface="wwan0", modem_command=command).read()

    assert await modem_fact("radio_signal_strength") == -83
    assert await modem_fact("link_quality") == 41
    assert await modem_fact("network_bearer") == 2  # WCDMA, as the modem says
    assert await modem_fact("smcc") == 440
    assert await modem_fact("smnc") == 20
    # Five reads within the cache window ran mmcli once for status and once for signal.
    assert calls.read_text().splitlines() == ["-m any -J", "-m any --signal-get -J"]


async def test_unknown_fact_or_type_is_a_config_error() -> None:
    with pytest.raises(HardwareConfigError) as excinfo:
        SystemFact(fact="cpu_temp")
    assert excinfo.value.field == "fact" and "cpu_temperature" in excinfo.value.fix
    with pytest.raises(HardwareConfigError) as excinfo:
        SystemFact(fact="uptime", rtype=ResourceType.OPAQUE)
    assert excinfo.value.field == "rtype"


async def test_polled_fact_notifies_when_it_moves(pi_root: Path) -> None:
    binding = SystemFact(fact="cpu_temperature", root=pi_root, poll_interval=0.02, modem_command=NO_MODEM)
    changed = asyncio.Event()
    binding.add_listener(changed.set)
    await binding.start()
    try:
        await asyncio.sleep(0.06)
        assert not changed.is_set()
        put(pi_root, "sys/class/thermal/thermal_zone0/temp", "61000\n")
        await asyncio.wait_for(changed.wait(), 2.0)
        assert await binding.read() == 61.0
    finally:
        await binding.close()


# ---- this machine's real /proc and /sys -------------------------------------------------------------

REAL = Path("/")


async def test_real_os_release_and_kernel() -> None:
    expected = platform.freedesktop_os_release().get("PRETTY_NAME")
    assert await fact(REAL, "firmware_version") == expected
    assert await fact(REAL, "software_version") == platform.release()


async def test_real_memory_and_uptime() -> None:
    total = await fact(REAL, "memory_total")
    physical_kib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 1024
    assert total == pytest.approx(physical_kib, rel=0.01)
    free = await fact(REAL, "memory_free")
    assert isinstance(free, int) and 0 < free <= total
    uptime = await fact(REAL, "uptime")
    assert uptime == pytest.approx(time.clock_gettime(time.CLOCK_BOOTTIME), abs=2)


async def test_real_cpu_temperature_or_503() -> None:
    zones = list(Path("/sys/class/thermal").glob("thermal_zone*/temp"))
    if zones:
        value = await fact(REAL, "cpu_temperature")
        assert isinstance(value, float) and -40 < value < 150
    else:
        with pytest.raises(ServiceUnavailable) as excinfo:
            await fact(REAL, "cpu_temperature")
        assert "no thermal zone in /sys/class/thermal" in excinfo.value.message


async def test_real_identity_or_503() -> None:
    has_source = Path("/proc/device-tree/model").exists() or Path("/sys/class/dmi/id/product_name").exists()
    if has_source:
        assert isinstance(await fact(REAL, "model"), str)
    else:
        with pytest.raises(ServiceUnavailable) as excinfo:
            await fact(REAL, "model")
        assert "/proc/device-tree/model" in excinfo.value.message


def default_route() -> tuple[str, str] | None:
    """(gateway, device) of the default IPv4 route, as iproute2 tells it."""
    if shutil.which("ip") is None:
        return None
    words = subprocess.run(["ip", "-4", "route", "show", "default"], capture_output=True, text=True,
                           check=False).stdout.split()
    if "via" not in words or "dev" not in words:
        return None
    return words[words.index("via") + 1], words[words.index("dev") + 1]


async def test_real_network_matches_iproute2_and_the_socket_layer() -> None:
    route = default_route()
    if route is None:
        pytest.skip("no default IPv4 route (or no iproute2) on this machine")
    gateway, device = route
    assert gateway in (await fact(REAL, "router_ip_addresses")).values()
    assert device in (await fact(REAL, "interfaces")).values()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((gateway, 9))  # no packet is sent: this only picks the source address
        source = probe.getsockname()[0]
    assert source in (await fact(REAL, "ip_addresses")).values()
    assert source in (await fact(REAL, "ip_addresses", interface=device)).values()
    bearer = await fact(REAL, "network_bearer")
    if Path(f"/sys/class/net/{device}/wireless").exists():
        assert bearer == 21
    elif Path(f"/sys/class/net/{device}/type").read_text().strip() == "1" and not device.startswith("ww"):
        assert bearer == 41


async def test_every_fact_answers_a_value_or_503_on_this_machine() -> None:
    for name in FACTS:
        try:
            value = await fact(REAL, name)
        except ServiceUnavailable as exc:
            assert exc.message, name
        else:
            assert value is not None, name


# ---- clock ------------------------------------------------------------------------------------------

async def test_simulated_clock_write_keeps_an_offset(caplog: pytest.LogCaptureFixture) -> None:
    clock = SystemClock(simulate=True)
    current = CurrentTime(clock=clock)
    target = int(time.time()) + 3600
    with caplog.at_level(logging.INFO):
        await current.write(target)
    assert abs(await current.read() - target) <= 1  # type: ignore[operator]
    assert abs(time.time() + 3600 - target) <= 2  # the system clock itself did not move
    assert "simulator" in caplog.text and "offset" in caplog.text
    with pytest.raises(BadRequest):
        await current.write("tomorrow")


async def test_timezone_and_offset(pi_root: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = SystemClock(root=pi_root, simulate=True)
    zone, offset = Timezone(clock=clock), UtcOffset(clock=clock)
    assert await zone.read() == "Asia/Tokyo"
    assert await offset.read() == "+09:00"
    with caplog.at_level(logging.INFO):
        await zone.write("Europe/Paris")
    assert await zone.read() == "Europe/Paris"
    assert (pi_root / "etc/timezone").read_text() == "Asia/Tokyo\n"  # simulator: system untouched
    assert await offset.read() in ("+01:00", "+02:00")
    assert "simulator" in caplog.text
    with pytest.raises(BadRequest):
        await zone.write("Mars/Olympus_Mons")
    with pytest.raises(BadRequest):
        await zone.write("../../etc/passwd")
    await offset.write("UTC-05:30")
    assert await offset.read() == "-05:30"
    with pytest.raises(BadRequest):
        await offset.write("+25:00")
    await zone.write("UTC")  # a new zone decides the offset again
    assert await offset.read() == "+00:00"


async def test_timezone_from_localtime_link(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    os.symlink("/usr/share/zoneinfo/America/New_York", tmp_path / "etc/localtime")
    assert SystemClock(root=tmp_path).timezone() == "America/New_York"
    assert SystemClock(root=tmp_path / "nothing").timezone() == "UTC"


@pytest.mark.parametrize(("text", "normal"), [("+9", "+09:00"), ("UTC+09:00", "+09:00"), ("-0530", "-05:30"),
                                               ("Z", "+00:00"), ("-00:00", "+00:00"), ("+14:00", "+14:00")])
def test_utc_offset_forms(text: str, normal: str) -> None:
    assert parse_utc_offset(text) == normal


# ---- reboot, factory reset, error codes ----------------------------------------------------------------

async def test_simulated_reboot_only_logs(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    marker = tmp_path / "rebooted"
    reboot = Reboot(action=["touch", str(marker)], simulate=True, delay=0)
    with caplog.at_level(logging.WARNING):
        await reboot.execute("")
    await asyncio.sleep(0.05)
    assert "reboot requested (simulator: not rebooting)" in caplog.text
    assert reboot.requests == 1 and not marker.exists()


async def test_real_reboot_runs_its_action_after_answering(tmp_path: Path) -> None:
    marker = tmp_path / "rebooted"
    reboot = Reboot(action=["touch", str(marker)], delay=0.05)
    await reboot.execute("")
    assert not marker.exists()  # the execute is answered before the action runs
    for _ in range(200):
        if marker.exists():
            break
        await asyncio.sleep(0.01)
    assert marker.exists()
    await reboot.close()


async def test_reboot_with_a_missing_program_fails_at_once() -> None:
    reboot = Reboot(action=["/nonexistent/reboot-now"], delay=0)
    with pytest.raises(Exception) as excinfo:
        await reboot.execute("")
    assert getattr(excinfo.value, "code", None) == (5, 0)


async def test_an_action_without_a_command_goes_to_the_service_handler() -> None:
    reset = FactoryReset(delay=0.01)
    with pytest.raises(Exception) as excinfo:
        await reset.execute("")  # no command and no service to hand it to
    assert getattr(excinfo.value, "code", None) == (5, 0) and "as a service" in str(excinfo.value)
    handled = asyncio.Event()
    reset.handler = handled.set
    await reset.execute("")
    assert not handled.is_set()  # the execute is answered before the handler runs
    await asyncio.wait_for(handled.wait(), 5)
    simulated = Reboot(action=["touch", "/nonexistent/x"], simulate=True, delay=0.01)
    simulated.handler = handled.clear
    await simulated.execute("")  # simulator: the command is not run, the service handler is
    await asyncio.wait_for(_until(lambda: not handled.is_set()), 5)
    with pytest.raises(HardwareConfigError):
        Reboot(action="systemctl reboot")  # a shell string, not an argument list


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def test_error_codes(pi_root: Path) -> None:
    errors = ErrorCodes(root=pi_root, low_battery_percent=10, low_memory_kib=100_000)
    reset = ResetErrorCodes(errors=errors)
    notified: list[bool] = []
    errors.add_listener(lambda: notified.append(True))
    assert await errors.read() == {0: 0}
    errors.report(DeviceError.GPS_FAILURE)
    errors.report(DeviceError.GPS_FAILURE)
    assert await errors.read() == {0: 3}
    assert notified == [True]
    put(pi_root, "sys/class/power_supply/BAT0/capacity", "5\n")
    assert await errors.read() == {0: 1, 1: 3}
    await reset.execute("")
    assert await errors.read() == {0: 1}  # low battery stays while the battery is low
    put(pi_root, "sys/class/power_supply/BAT0/capacity", "50\n")
    assert await errors.read() == {0: 0}
    with pytest.raises(ValueError):
        errors.report(99)
