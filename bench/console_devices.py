"""The console's Devices page with a fleet: how long its API calls take, and the page in a browser.

Starts ``lwm2m-agent simulate --devices N --no-bootstrap`` as a user does, then times what the Devices
page asks for: ``GET /v1/devices?limit=50`` for every page (first to last, following
x-soracom-next-key), and, when Debian's chromium and chromedriver are there, the time from opening the
printed console URL to the first 50 rows shown.

    .venv/bin/python bench/console_devices.py [--devices 1000]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--page-size", type=int, default=50)
    args = parser.parse_args()
    command = [sys.executable, "-m", "agent.cli", "simulate", "--devices", str(args.devices), "--no-bootstrap",
               "--api-port", "0", "--lwm2m-port", "0", "--bootstrap-port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Try"):
                break
        text = "".join(lines)
        console = text.splitlines()[0].removeprefix("Console: ").strip()
        api = re.search(r"API base URL:\s+(\S+)", text).group(1)  # type: ignore[union-attr]
        headers = {"X-Soracom-API-Key": re.search(r"API key:\s+(\S+)", text).group(1),  # type: ignore[union-attr]
                   "X-Soracom-Token": re.search(r"API token:\s+(\S+)", text).group(1)}  # type: ignore[union-attr]
        times: list[float] = []
        key = ""
        seen = 0
        while True:
            url = f"{api}/devices?limit={args.page_size}" + (f"&last_evaluated_key={key}" if key else "")
            started = time.perf_counter()
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as answer:
                page = json.loads(answer.read())
                key = answer.headers.get("x-soracom-next-key") or ""
            times.append((time.perf_counter() - started) * 1000)
            seen += len(page)
            if not key:
                break
        print(f"{args.devices} devices, {len(times)} pages of {args.page_size}: GET /v1/devices median "
              f"{statistics.median(times):.1f} ms, first {times[0]:.1f} ms, last {times[-1]:.1f} ms, "
              f"max {max(times):.1f} ms ({seen} devices listed)")
        browser_time(console, args.page_size)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)


def browser_time(console: str, rows: int) -> None:
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        print("no chromium/chromedriver: browser time not measured")
        return
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", f"--user-data-dir={tempfile.mkdtemp()}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        samples = []
        for _ in range(5):
            driver.get("about:blank")
            started = time.perf_counter()
            driver.get(console)
            while len(driver.find_elements(By.CSS_SELECTOR, "#device-list tbody tr")) < rows:
                time.sleep(0.005)
            samples.append((time.perf_counter() - started) * 1000)
        print(f"console URL opened to {rows} device rows shown: median {statistics.median(samples):.0f} ms "
              f"(5 runs, headless Chromium)")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
