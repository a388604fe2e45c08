"""The console of ``simulate --security psk``: a device created in the browser connects over DTLS with the
two lines the page prints (the key file, then ``lwm2m-agent run`` with ``--psk-identity``)."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from support import CLI
from test_console import (  # noqa: F401  (browser is a fixture)
    Simulator,
    _read_until,
    browser,
    go,
    interrupt,
    screenshot,
    shown,
    wait_for,
)


@pytest.fixture(scope="module")
def psk_sim() -> Iterator[Simulator]:
    proc = subprocess.Popen([*CLI, "simulate", "--security", "psk", "--api-port", "0", "--lwm2m-port", "0",
                             "--bootstrap-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        text = _read_until(proc, "Try", 60)

        def find(pattern: str) -> str:
            match = re.search(pattern, text)
            assert match, f"{pattern!r} not in:\n{text}"
            return match.group(1)

        yield Simulator(proc, text.splitlines()[0].removeprefix("Console: ").strip(), find(r"API base URL:\s+(\S+)"),
                        find(r"API key:\s+(\S+)"), find(r"API token:\s+(\S+)"), find(r"device (d-\w+)"), text)
    finally:
        interrupt(proc)


def test_created_device_connects_over_dtls_with_the_printed_lines(browser: WebDriver, psk_sim: Simulator,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    browser.get(psk_sim.console_url)  # the printed URL logs in
    wait_for(browser, lambda d: shown(d, f'tr[data-device-id="{psk_sim.device_id}"]'), "the simulated device")
    wait_for(browser, lambda d: shown(d, "details.panel summary"), "the create panel").click()
    browser.find_element(By.CSS_SELECTOR, 'input[name="endpoint"]').send_keys("psk-made")
    browser.find_element(By.XPATH, "//button[text()='Create device']").click()
    created = wait_for(browser, lambda d: shown(d, "#created-device .device-id"), "the new device id")
    device_id = created.text
    lines = browser.find_element(By.CSS_SELECTOR, "#created-device pre.command").text.splitlines()
    assert len(lines) == 2, lines
    key_line, run_line = lines
    assert run_line.startswith("lwm2m-agent run --server coaps://127.0.0.1:")
    assert f"--psk-identity {device_id}" in run_line and "--psk-key-file psk-made.key" in run_line
    screenshot(browser, "device-created-psk")
    subprocess.run(["bash", "-c", key_line], cwd=tmp_path, check=True, timeout=10)
    assert (tmp_path / "psk-made.key").stat().st_mode & 0o077 == 0, "the key file is owner-only"
    agent = subprocess.Popen([*CLI, *shlex.split(run_line)[1:], "--bind", "127.0.0.1"], cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    try:
        go(browser, psk_sim, "/devices")
        wait_for(browser, lambda d: (r := shown(d, f'tr[data-device-id="{device_id}"]')) and "online" in r.text,
                 "the created device online over DTLS", timeout=30)
    finally:
        interrupt(agent)
