"""What a cellular modem says about its link, through ModemManager's ``mmcli`` when it is there.

Signal strength, link quality, the access technology and the operator code of a cellular link
are known only to the modem. On a device with ModemManager, ``mmcli -m any -J`` (status) and
``mmcli -m any --signal-get -J`` (signal, once ``--signal-setup`` enabled it) print them as JSON.
Without mmcli, or without a modem, every fact here is unavailable (5.03) and the agent goes on.

Answers are cached for a few seconds: a read of /4/0 reads several resources, and one mmcli run
per resource would start a dozen processes for one request.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .linux_facts import FactUnavailable
from .process import CommandFailed, run_command

# mmcli access technologies -> LwM2M 4/0/0 bearer codes.
_ACCESS_BEARERS = {
    "gsm": 0, "gsm-compact": 0, "gprs": 0, "edge": 0,
    "umts": 2, "hsdpa": 2, "hsupa": 2, "hspa": 2, "hspa-plus": 2,
    "1xrtt": 3, "evdo0": 3, "evdoa": 3, "evdob": 3,
    "lte": 6, "lte-cat-m": 6, "lte-nb-iot": 7,
}


@dataclass(frozen=True, slots=True)
class ModemStatus:
    signal_quality: int | None  # percent
    access_technologies: tuple[str, ...]
    operator_code: str | None  # MCC followed by MNC, e.g. "44010"
    rssi_dbm: int | None

    @property
    def bearer(self) -> int | None:
        for technology in self.access_technologies:
            if technology in _ACCESS_BEARERS:
                return _ACCESS_BEARERS[technology]
        return None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None  # mmcli prints "--" for unknown values
    return number


def parse_modem_json(status_text: str, signal_text: str | None) -> ModemStatus:
    """Parse ``mmcli -m any -J`` and (optionally) ``mmcli -m any --signal-get -J`` output."""
    try:
        modem = json.loads(status_text)["modem"]
    except (ValueError, KeyError, TypeError):
        raise FactUnavailable("mmcli printed no modem status") from None
    generic = modem.get("generic", {}) if isinstance(modem, dict) else {}
    quality = generic.get("signal-quality", {}) if isinstance(generic, dict) else {}
    quality_value = _number(quality.get("value")) if isinstance(quality, dict) else None
    technologies = generic.get("access-technologies", []) if isinstance(generic, dict) else []
    if isinstance(technologies, str):
        technologies = [t.strip() for t in technologies.split(",")]
    three_gpp = modem.get("3gpp", {}) if isinstance(modem, dict) else {}
    operator = three_gpp.get("operator-code") if isinstance(three_gpp, dict) else None
    rssi: float | None = None
    if signal_text:
        try:
            signal = json.loads(signal_text)["modem"]["signal"]
        except (ValueError, KeyError, TypeError):
            signal = {}
        if isinstance(signal, dict):
            for technology in ("5g", "lte", "umts", "gsm", "evdo", "cdma1x"):
                entry = signal.get(technology)
                if isinstance(entry, dict):
                    rssi = _number(entry.get("rssi"))
                    if rssi is not None:
                        break
    return ModemStatus(
        signal_quality=int(quality_value) if quality_value is not None else None,
        access_technologies=tuple(str(t) for t in technologies if isinstance(t, str) and t),
        operator_code=operator if isinstance(operator, str) and operator.isdigit() else None,
        rssi_dbm=round(rssi) if rssi is not None else None,
    )


class ModemQuery:
    """Runs mmcli (at most once per ``cache_seconds``) and returns the parsed status."""

    def __init__(self, command: Sequence[str] = ("mmcli", "-m", "any"), *, timeout: float = 5.0,
                 cache_seconds: float = 2.0) -> None:
        self.command = tuple(command)
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self._cached: tuple[float, ModemStatus | FactUnavailable] | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def shared(cls, command: Sequence[str]) -> ModemQuery:
        """The running loop's query for ``command``, so all modem facts share one cache."""
        queries = _shared.setdefault(asyncio.get_running_loop(), {})
        key = tuple(command)
        query = queries.get(key)
        if query is None:
            query = queries[key] = cls(key)
        return query

    async def status(self) -> ModemStatus:
        async with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > self.cache_seconds:
                self._cached = (now, await self._query())
            result = self._cached[1]
        if isinstance(result, FactUnavailable):
            raise result
        return result

    async def _query(self) -> ModemStatus | FactUnavailable:
        if shutil.which(self.command[0]) is None:
            return FactUnavailable(f"{self.command[0]} is not installed (no ModemManager)")
        try:
            status = await run_command([*self.command, "-J"], timeout=self.timeout)
        except CommandFailed as exc:
            return FactUnavailable(f"no modem: {exc.reason}")
        try:
            signal = (await run_command([*self.command, "--signal-get", "-J"], timeout=self.timeout)).stdout
        except CommandFailed:
            signal = b""
        try:
            return parse_modem_json(status.stdout.decode(errors="replace"), signal.decode(errors="replace"))
        except FactUnavailable as exc:
            return exc


_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, ...], ModemQuery]] = (
    weakref.WeakKeyDictionary()
)
