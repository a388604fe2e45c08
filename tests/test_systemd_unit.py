"""The shipped unit file: valid for systemd, hardened as its comments say, and mapping exit 194 to a reboot.

``systemd-analyze`` checks the unit when it is installed (it is on Debian and Raspberry Pi OS);
otherwise those tests skip and say why. The reboot mapping is checked by running the unit's own
``ExecStopPost=`` command with the environment systemd gives it and a stand-in ``systemctl``
that records its arguments -- a test never reboots anything.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO

from agent.daemon.device_control import EXIT_REBOOT

UNIT = REPO / "systemd" / "lwm2m-agent.service"
INSTALLED_AGENT = "/opt/lwm2m-agent/.venv/bin/lwm2m-agent"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")


def unit_settings(text: str, section: str = "Service") -> dict[str, list[str]]:
    """``key -> values`` of one section (a unit may repeat a key); comments and blank lines skipped."""
    settings: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            continue
        if current == section:
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def checkable_unit(tmp_path: Path) -> Path:
    """The unit with ExecStart= pointing at this checkout's agent (verify wants an executable)."""
    agent = Path(sys.executable).parent / "lwm2m-agent"
    if not agent.exists():
        pytest.skip(f"{agent} is not installed (pip install -e .)")
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(INSTALLED_AGENT, str(agent)))
    return copy


@needs_systemd_analyze
def test_unit_verifies(tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE is not None
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", str(checkable_unit(tmp_path))], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


@needs_systemd_analyze
def test_unit_exposure_is_at_most_2_and_as_the_comment_says() -> None:
    assert SYSTEMD_ANALYZE is not None
    result = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=yes", "--no-pager", str(UNIT)],
                            capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for lwm2m-agent\.service: (\d+\.\d)", result.stdout)
    if found is None and "--offline" in result.stderr:
        pytest.skip(f"this systemd-analyze has no --offline: {result.stderr.strip()[:200]}")
    assert found is not None, result.stdout[-2000:] + result.stderr
    exposure = float(found.group(1))
    assert exposure <= 2.0
    claimed = re.search(r"\(systemd (\d+)\) rates this unit (\d+\.\d)", UNIT.read_text())
    assert claimed is not None, "the unit's comment states the figure"
    version = subprocess.run([SYSTEMD_ANALYZE, "--version"], capture_output=True, text=True, timeout=30).stdout
    if version.split()[1] == claimed.group(1):  # other versions weigh the settings differently
        assert float(claimed.group(2)) == exposure, "the figure in the unit's comment is the measured one"


def test_unit_keeps_what_the_agent_needs() -> None:
    service = unit_settings(UNIT.read_text())
    assert service["DynamicUser"] == ["yes"] and service["StateDirectory"] == ["lwm2m-agent"]
    assert service["StateDirectoryMode"] == ["0700"] and service["UMask"] == ["0077"]
    assert set(service["SupplementaryGroups"][0].split()) == {"gpio", "dialout"}
    assert {"AF_INET", "AF_INET6", "AF_UNIX"} <= set(service["RestrictAddressFamilies"][0].split())
    allowed = {entry.split()[0] for entry in service["DeviceAllow"]}
    assert {"char-gpiochip", "char-ttyUSB", "char-ttyACM", "char-ttyAMA", "char-ttyS"} <= allowed
    assert service.get("ProcSubset", ["all"]) == ["all"], "system facts read /proc/meminfo, /proc/uptime, ..."
    assert service.get("PrivateDevices", ["no"]) == ["no"] and service.get("PrivateNetwork", ["no"]) == ["no"]
    assert "${STATE_DIRECTORY}" in service["ExecStart"][0]


def test_unit_maps_the_reboot_status_and_only_it() -> None:
    service = unit_settings(UNIT.read_text())
    assert str(EXIT_REBOOT) in service["SuccessExitStatus"][0].split(), "194 is a clean exit: no restart"
    assert service["Restart"] == ["on-failure"]


@pytest.mark.parametrize(("exit_code", "exit_status", "reboots"), [
    ("exited", str(EXIT_REBOOT), True),
    ("exited", "0", False),
    ("exited", "1", False),
    ("killed", "TERM", False),
    ("dumped", "ABRT", False),
    ("killed", str(EXIT_REBOOT), False),  # a signal number is not the agent's exit status
])
def test_exec_stop_post_reboots_on_the_reboot_status_only(tmp_path: Path, exit_code: str, exit_status: str,
                                                          reboots: bool) -> None:
    (command,) = unit_settings(UNIT.read_text())["ExecStopPost"]
    assert command.startswith("+"), "runs with full privileges, outside the sandbox"
    argv = shlex.split(command[1:].replace("$$", "$"))  # systemd turns $$ into $ before exec
    calls = tmp_path / "systemctl-calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    systemctl.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "EXIT_CODE": exit_code, "EXIT_STATUS": exit_status,
           "SERVICE_RESULT": "success"}
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    if reboots:
        assert calls.read_text().split() == ["--no-block", "reboot"]
    else:
        assert not calls.exists()
