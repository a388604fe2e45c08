"""The emulator's web console in headless Chromium, against ``lwm2m-agent simulate`` run as a user runs it.

One ``simulate`` subprocess and one browser serve the whole module; the tests run in file order and the
last one stops the emulator. Screenshots of the main pages land in ``tests/artifacts/console/`` (git-ignored).
Everything is checked in what the page shows, and where it matters also through the API (a write
really reached the device, a created device really connects).
"""

from __future__ import annotations

import json
import queue
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import CLI, HERE

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = HERE / "artifacts" / "console"
WAIT = 20.0

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402


@dataclass
class Simulator:
    proc: subprocess.Popen[str]
    console_url: str
    api_url: str
    api_key: str
    token: str
    device_id: str
    output: str

    def api(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.api_url + path, data=data, method=method, headers={
            "X-Soracom-API-Key": self.api_key, "X-Soracom-Token": self.token, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read().decode()
            return answer.status, json.loads(text) if text else None

    def stop(self) -> None:
        interrupt(self.proc)


def interrupt(proc: subprocess.Popen[str]) -> None:
    """Ctrl-C, as a user stops it; killed only if it does not end within 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """Lines of ``proc``'s output up to the one starting with ``marker``; a thread reads, so a
    silent process costs ``timeout``, never a hang. The thread goes on draining the pipe after."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if not line:
            break
        seen.append(line)
        if line.startswith(marker):
            return "".join(seen)
    raise AssertionError(f"simulate did not print {marker!r}: {''.join(seen)}")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    proc = subprocess.Popen([*CLI, "simulate", "--api-port", "0", "--lwm2m-port", "0", "--bootstrap-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        text = _read_until(proc, "Try", 60)
        first = text.splitlines()[0]
        assert first.startswith("Console: http://"), f"the console's URL comes first, not {first!r}"

        def find(pattern: str) -> str:
            match = re.search(pattern, text)
            assert match, f"{pattern!r} not in:\n{text}"
            return match.group(1)

        simulator = Simulator(proc, first.removeprefix("Console: ").strip(), find(r"API base URL:\s+(\S+)"),
                              find(r"API key:\s+(\S+)"), find(r"API token:\s+(\S+)"), find(r"device (d-\w+)"), text)
        yield simulator
    finally:
        interrupt(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--window-size=1280,900"):
        options.add_argument(argument)
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str, timeout: float = WAIT) -> Any:
    """The first truthy answer of ``condition``; fails naming ``what`` and saving a screenshot."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = condition(driver)
            if answer:
                return answer
        except (StaleElementReferenceException, WebDriverException):
            pass
        if time.monotonic() > deadline:
            driver.save_screenshot(str(ARTIFACTS / "failure.png"))
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def shown(driver: WebDriver, css: str) -> WebElement | None:
    for element in driver.find_elements(By.CSS_SELECTOR, css):
        if element.is_displayed():
            return element
    return None


def go(driver: WebDriver, sim: Simulator, route: str) -> None:
    driver.get(sim.console_url.split("#")[0] + "#" + route)


def row(driver: WebDriver, path: str) -> WebElement:
    found: WebElement = wait_for(driver, lambda d: shown(d, f'tr[data-path="{path}"]'), f"the row of {path}")
    return found


def screenshot(driver: WebDriver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


UNLABELLED_CONTROLS = """
return [...document.querySelectorAll('input, select, textarea, button')]
  .filter(e => e.offsetParent !== null)
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
  .map(e => e.outerHTML.slice(0, 120));
"""


def test_the_printed_url_logs_in_and_lists_the_device(browser: WebDriver, sim: Simulator) -> None:
    browser.get(sim.console_url)
    device = wait_for(browser, lambda d: shown(d, f'tr[data-device-id="{sim.device_id}"]'), "the device row")
    assert "online" in device.text
    assert re.search(r"sim-\S+", device.text), device.text
    assert "s ago" in device.text, "last seen"
    assert "token=" not in browser.current_url, "the credentials leave the address bar once taken"
    assert browser.execute_script(UNLABELLED_CONTROLS) == []
    screenshot(browser, "devices")


def test_read_and_write_resources_on_the_device_page(browser: WebDriver, sim: Simulator) -> None:
    go(browser, sim, f"/devices/{sim.device_id}")
    temperature = row(browser, "/3303/0/5700")
    assert "Sensor Value" in temperature.text and "FLOAT" in temperature.text
    assert "Temperature" in browser.find_element(By.CSS_SELECTOR, "main").text, "objects are named from the models"
    temperature.find_element(By.CSS_SELECTOR, 'button[aria-label="Read /3303/0/5700"]').click()

    def read_number(_: WebDriver) -> float | None:
        cells = row(browser, "/3303/0/5700")
        value = cells.find_element(By.CSS_SELECTOR, "td.value").text
        when = cells.find_element(By.CSS_SELECTOR, "td.time").text
        return float(value) if re.fullmatch(r"-?\d+(\.\d+)?", value) and "read" in when else None

    assert -50 < wait_for(browser, read_number, "a number read from /3303/0/5700") < 100
    assert re.match(r"\d\d:\d\d:\d\d read", row(browser, "/3303/0/5700").find_element(By.CSS_SELECTOR, "td.time").text)

    offset = row(browser, "/3/0/14")
    field = offset.find_element(By.CSS_SELECTOR, 'input[aria-label^="New value of /3/0/14"]')
    field.clear()
    field.send_keys("+05:30")
    offset.find_element(By.CSS_SELECTOR, 'button[aria-label="Write /3/0/14"]').click()
    wait_for(browser, lambda d: row(d, "/3/0/14").find_element(By.CSS_SELECTOR, "td.value").text == "+05:30",
             "/3/0/14 read back as written")
    assert sim.api("GET", f"/devices/{sim.device_id}/3/0/14")[1]["value"] == "+05:30", "the device holds it"

    fan = row(browser, "/30000/0/26242")
    assert "Reset Filter Runtime" in fan.text, "an uploaded model's executable is named"
    fan.find_element(By.CSS_SELECTOR, 'input[aria-label^="Execute arguments for /30000/0/26242"]').send_keys("0='now'")
    fan.find_element(By.CSS_SELECTOR, 'button[aria-label="Execute /30000/0/26242"]').click()
    done = wait_for(browser, lambda d: shown(d, "#device-notice.ok"), "the execute confirmation")
    assert done.text == "Executed /30000/0/26242 with 0='now'."
    row(browser, "/3303/0/5605").find_element(By.CSS_SELECTOR, 'button[aria-label="Execute /3303/0/5605"]').click()
    refused = wait_for(browser, lambda d: shown(d, "#device-notice.error"), "the device's refusal")
    assert "Execute /3303/0/5605" in refused.text and "4.04" in refused.text, refused.text
    assert browser.execute_script(UNLABELLED_CONTROLS) == []
    screenshot(browser, "device")


def test_observe_brings_live_values_and_the_chart_gains_points(browser: WebDriver, sim: Simulator) -> None:
    go(browser, sim, f"/devices/{sim.device_id}")
    row(browser, "/3303/0/5700").find_element(By.CSS_SELECTOR, 'button[aria-label="Observe /3303/0/5700"]').click()
    wait_for(browser, lambda d: "notified" in row(d, "/3303/0/5700").find_element(By.CSS_SELECTOR, "td.time").text,
             "a notification shown without a reload")
    assert row(browser, "/3303/0/5700").find_element(By.CSS_SELECTOR, "button.observe").get_attribute(
        "aria-pressed") == "true"
    browser.execute_script("document.querySelector('section[aria-label^=\"Temperature\"]').scrollIntoView()")
    screenshot(browser, "device-observed")

    browser.find_element(By.LINK_TEXT, "Data (chart and table)").click()

    def points(driver: WebDriver) -> int:
        summary = shown(driver, "#chart-summary")
        return int(summary.get_attribute("data-points") or 0) if summary else 0

    first = wait_for(browser, points, "points on the chart")
    assert browser.find_elements(By.CSS_SELECTOR, "#chart canvas"), "uPlot drew the chart"
    assert "/3303/0/5700 Sensor Value" in browser.find_element(By.CSS_SELECTOR, "#chart").text, "the legend"
    wait_for(browser, lambda d: points(d) > first, "the chart gaining points live", timeout=10)
    assert shown(browser, "#data-table tbody tr") is not None
    screenshot(browser, "data")
    sim.api("POST", f"/devices/{sim.device_id}/3303/0/5700/unobserve")


def test_sigfox_frames_are_decoded_and_a_downlink_is_queued(browser: WebDriver, sim: Simulator) -> None:
    go(browser, sim, "/sigfox")
    temp = wait_for(browser, lambda d: shown(d, 'td.decoded[data-field="temp"]'), "a decoded temp field")
    assert -50 < float(temp.text) < 100
    frame = temp.find_element(By.XPATH, "..").find_element(By.CSS_SELECTOR, "code").text
    assert re.fullmatch(r"[0-9a-f]{2,24}", frame), frame
    field = browser.find_element(By.CSS_SELECTOR, 'input[name="data"]')
    field.send_keys("0102030405060708")
    browser.find_element(By.XPATH, "//button[text()='Send downlink']").click()
    message = wait_for(browser, lambda d: shown(d, "p.notice.ok"), "the downlink confirmation")
    assert "0102030405060708 queued" in message.text
    assert browser.execute_script(UNLABELLED_CONTROLS) == []
    screenshot(browser, "sigfox")


def test_create_a_device_and_connect_an_agent_with_the_printed_line(browser: WebDriver, sim: Simulator) -> None:
    go(browser, sim, "/devices")
    wait_for(browser, lambda d: shown(d, "details.panel summary"), "the create panel").click()
    browser.find_element(By.CSS_SELECTOR, 'input[name="endpoint"]').send_keys("console-made")
    browser.find_element(By.CSS_SELECTOR, 'input[name="tags"]').send_keys("site=lab")
    browser.find_element(By.XPATH, "//button[text()='Create device']").click()
    created = wait_for(browser, lambda d: shown(d, "#created-device .device-id"), "the new device id")
    device_id = created.text
    secret = browser.find_element(By.CSS_SELECTOR, "#created-device .secret-key").text
    assert re.fullmatch(r"d-[a-z0-9]{20}", device_id) and len(secret) == 24
    command = browser.find_element(By.CSS_SELECTOR, "#created-device pre.command").text.splitlines()[-1]
    assert command.startswith("lwm2m-agent run --server coap://127.0.0.1:") and "--endpoint console-made" in command
    screenshot(browser, "device-created")
    agent = subprocess.Popen([*CLI, *shlex.split(command)[1:]],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    try:
        browser.find_element(By.CSS_SELECTOR, 'input[name="tagName"]').send_keys("site")
        browser.find_element(By.CSS_SELECTOR, 'input[name="tagValue"]').send_keys("lab")
        browser.find_element(By.XPATH, "//button[text()='Apply']").click()
        wait_for(browser, lambda d: (r := shown(d, f'tr[data-device-id="{device_id}"]')) and "online" in r.text,
                 "the created device online, found by its tag", timeout=30)
        assert len(browser.find_elements(By.CSS_SELECTOR, "#device-list tbody tr")) == 1, "the tag filter"
    finally:
        interrupt(agent)


def test_paging_through_devices_filtered_by_tag(browser: WebDriver, sim: Simulator) -> None:
    made = {sim.api("POST", "/devices", {"tags": {"batch": "paging"}})[1]["device_id"] for _ in range(30)}
    go(browser, sim, "/devices?tag_name=batch&tag_value=paging")
    browser.find_element(By.CSS_SELECTOR, 'select[name="size"] option[value="25"]').click()
    browser.find_element(By.XPATH, "//button[text()='Apply']").click()

    def page_of(size: int) -> Callable[[WebDriver], set[str] | None]:
        def listed(driver: WebDriver) -> set[str] | None:
            ids = {r.get_attribute("data-device-id") or "" for r in driver.find_elements(
                By.CSS_SELECTOR, "#device-list tbody tr")}
            return ids if len(ids) == size else None
        return listed

    first = wait_for(browser, page_of(25), "a first page of 25")
    browser.find_element(By.XPATH, "//button[text()='Next page']").click()
    second = wait_for(browser, page_of(5), "the last 5")
    assert first | second == made and not first & second
    assert not browser.find_element(By.XPATH, "//button[text()='Next page']").is_enabled()
    browser.find_element(By.XPATH, "//button[text()='Previous page']").click()
    assert wait_for(browser, page_of(25), "page 1 again") == first


def test_files_batch_and_models_pages(browser: WebDriver, sim: Simulator) -> None:
    request = urllib.request.Request(sim.api_url + "/files/private/console/hello.txt", data=b"hello from a device\n",
                                     method="PUT", headers={"X-Soracom-API-Key": sim.api_key,
                                                            "X-Soracom-Token": sim.token, "Content-Type": "text/plain"})
    assert urllib.request.urlopen(request, timeout=10).status in (200, 201)
    go(browser, sim, "/files?scope=private&dir=%2Fconsole%2F")
    wait_for(browser, lambda d: shown(d, 'button[aria-label="Preview /console/hello.txt"]'), "the file").click()
    preview = wait_for(browser, lambda d: shown(d, "#file-preview pre"), "the preview")
    assert preview.text.strip() == "hello from a device"
    screenshot(browser, "files")

    _, group = sim.api("POST", "/batch_groups", {"batchGroupName": "console-test"})
    sim.api("POST", f"/batch_groups/{group['batchGroupId']}/jobs", {
        "jobName": "read manufacturer", "tasks": [{"request": {"method": "GET",
                                                               "path": f"/v1/devices/{sim.device_id}/3/0/0"}}]})
    go(browser, sim, "/batch")
    job = wait_for(browser, lambda d: shown(d, 'button[aria-label="Tasks of read manufacturer"]'), "the job")
    created = job.find_element(By.XPATH, "../..").find_element(By.CSS_SELECTOR, "td.created").text
    assert re.fullmatch(r"(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d", created) and not created.startswith("19"), created
    job.click()
    task = wait_for(browser, lambda d: shown(d, "#batch-tasks tbody tr"), "the job's task")
    assert f"/v1/devices/{sim.device_id}/3/0/0" in task.text
    screenshot(browser, "batch")

    go(browser, sim, "/models")
    assert wait_for(browser, lambda d: shown(d, "#model-list tbody tr"), "the uploaded Fan model").text.startswith(
        "30000 Fan")
    too_big = {"objectId": 30999, "name": "Too big", "resources": [
        {"id": i, "name": f"r{i}", "operations": "R", "type": "INTEGER"} for i in range(21)]}
    browser.find_element(By.CSS_SELECTOR, 'textarea[name="definition"]').send_keys(json.dumps(too_big))
    browser.find_element(By.XPATH, "//button[text()='Upload model']").click()
    refused = wait_for(browser, lambda d: shown(d, "#model-notice.error"), "the refusal")
    assert "21 resources" in refused.text and "20" in refused.text, refused.text
    screenshot(browser, "models")


def test_phone_width(browser: WebDriver, sim: Simulator) -> None:
    browser.set_window_size(390, 844)
    try:
        for route, ready in ((f"/devices/{sim.device_id}", 'tr[data-path="/3303/0/5700"]'),
                             ("/devices", f'tr[data-device-id="{sim.device_id}"]')):
            go(browser, sim, route)
            wait_for(browser, lambda d, css=ready: shown(d, css), route)
            overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{route} is {overflow} px wider than a phone"
            screenshot(browser, "phone-" + route.strip("/").split("/")[0] + ("" if route == "/devices" else "-one"))
    finally:
        browser.set_window_size(1280, 900)


def test_a_wrong_token_shows_the_login_error_and_the_form_logs_in(browser: WebDriver, sim: Simulator) -> None:
    browser.get(sim.console_url.replace(f"token={sim.token}", "token=not-the-token"))
    error = wait_for(browser, lambda d: shown(d, "#login-error"), "the login error")
    assert "refused" in error.text and "AUM0003" in error.text
    assert shown(browser, "#main tr") is None, "no page behind the error"
    screenshot(browser, "login-error")
    browser.find_element(By.CSS_SELECTOR, 'input[name="authKeyId"]').send_keys("keyId-emulator")
    browser.find_element(By.CSS_SELECTOR, 'input[name="authKey"]').send_keys("wrong")
    browser.find_element(By.XPATH, "//button[text()='Log in']").click()
    wait_for(browser, lambda d: "Login refused" in d.find_element(By.ID, "login-error").text, "a refused login")
    key = browser.find_element(By.CSS_SELECTOR, 'input[name="authKey"]')
    key.clear()
    key.send_keys("secret-emulator")
    browser.find_element(By.XPATH, "//button[text()='Log in']").click()
    wait_for(browser, lambda d: shown(d, f'tr[data-device-id="{sim.device_id}"]'), "the devices after logging in")


def test_a_stopped_emulator_is_said_plainly(browser: WebDriver, sim: Simulator) -> None:
    go(browser, sim, f"/devices/{sim.device_id}")
    row(browser, "/3303/0/5700")
    sim.stop()
    banner = wait_for(browser, lambda d: shown(d, "#banner"), "the banner", timeout=15)
    assert "does not answer" in banner.text
    screenshot(browser, "emulator-stopped")
