"""The device's clock and time zone: Device resources 3/0/13 Current Time, /14 UTC Offset, /15 Timezone.

A server may write all three. Setting the system clock needs privilege (CAP_SYS_TIME) and is
never right in simulator mode, where several simulated devices share one host clock; then the
written time is kept as an offset the agent adds to the system time, and the log says so. The same
holds for the time zone: with privilege and not simulating, ``timezone_command`` (by default
``timedatectl set-timezone``) changes the system's zone; otherwise the agent keeps the written zone
for itself. A written UTC offset is always the agent's own (Linux has no "offset without zone").

One :class:`SystemClock` holds that state; :class:`CurrentTime`, :class:`UtcOffset` and
:class:`Timezone` are the three resources that share it.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import time
import zoneinfo
from collections.abc import Sequence
from pathlib import Path

from ..core.errors import BadRequest
from ..tree.binding import ResourceBinding, ResourceContent
from .process import CommandFailed, check_argv, run_command

log = logging.getLogger(__name__)

_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*(?:(?P<z>Z)|(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?)$")
_ZONE_NAME = re.compile(r"^[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*$")


def parse_utc_offset(text: str) -> str:
    """Normalise an ISO 8601 offset ("+9", "UTC+09:00", "-0530", "Z") to "+HH:MM"; ValueError if not one."""
    found = _OFFSET.match(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a UTC offset like +09:00")
    if found.group("z"):
        return "+00:00"
    hours, minutes = int(found.group("h")), int(found.group("m") or 0)
    if hours > 14 or minutes > 59:
        raise ValueError(f"{text!r} is out of range for a UTC offset")
    sign = found.group("sign")
    if hours == 0 and minutes == 0:
        sign = "+"
    return f"{sign}{hours:02d}:{minutes:02d}"


def format_utc_offset(seconds: float) -> str:
    sign = "-" if seconds < 0 else "+"
    minutes = int(abs(seconds)) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


class SystemClock:
    """Current time, time zone and UTC offset as the device reports them, with the agent's overrides."""

    def __init__(self, *, root: str | Path = Path("/"), simulate: bool = False,
                 timezone_command: Sequence[str] | None = ("timedatectl", "set-timezone"),
                 timeout: float = 10.0) -> None:
        self.root = Path(root)
        self.simulate = simulate
        self.timezone_command = (
            check_argv(timezone_command, "timezone_command") if timezone_command is not None else None
        )
        self.timeout = timeout
        self.offset = 0.0
        self._timezone: str | None = None
        self._utc_offset: str | None = None

    # ---- time ------------------------------------------------------------------------------
    def now(self) -> int:
        return int(time.time() + self.offset)

    def set_time(self, unix_seconds: int) -> None:
        if not self.simulate:
            try:
                time.clock_settime(time.CLOCK_REALTIME, float(unix_seconds))
            except PermissionError:
                self.offset = unix_seconds - time.time()
                log.warning("current time set to %d: no privilege to set the system clock (needs "
                            "CAP_SYS_TIME); keeping an offset of %+.0f s instead", unix_seconds, self.offset)
                return
            self.offset = 0.0
            log.info("system clock set to %d", unix_seconds)
            return
        self.offset = unix_seconds - time.time()
        log.info("current time set to %d (simulator: keeping an offset of %+.0f s instead of setting "
                 "the system clock)", unix_seconds, self.offset)

    # ---- time zone -------------------------------------------------------------------------
    def system_timezone(self) -> str:
        """The zone the system is configured with: /etc/timezone, else the /etc/localtime link, else UTC."""
        try:
            text = (self.root / "etc/timezone").read_text().strip()
            if text:
                return text
        except OSError:
            pass
        try:
            target = os.readlink(self.root / "etc/localtime")
        except OSError:
            return "UTC"  # glibc's rule when /etc/localtime is missing
        _, found, zone = target.partition("zoneinfo/")
        return zone if found and zone else "UTC"

    def timezone(self) -> str:
        return self._timezone if self._timezone is not None else self.system_timezone()

    def _zone_exists(self, name: str) -> bool:
        if not _ZONE_NAME.match(name) or ".." in name:
            return False
        try:
            zoneinfo.ZoneInfo(name)
            return True
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return (self.root / "usr/share/zoneinfo" / name).is_file()

    async def set_timezone(self, name: str) -> None:
        name = name.strip()
        if not self._zone_exists(name):
            raise BadRequest(f"{name!r} is not a known IANA time zone (e.g. Asia/Tokyo)")
        self._utc_offset = None  # the zone now decides the offset
        if self.simulate or self.timezone_command is None:
            self._timezone = name
            reason = "simulator" if self.simulate else "no timezone_command"
            log.info("timezone set to %s (%s: kept by the agent, the system's zone is unchanged)",
                     name, reason)
            return
        try:
            await run_command([*self.timezone_command, name], timeout=self.timeout)
        except CommandFailed as exc:
            self._timezone = name
            log.warning("timezone set to %s, kept by the agent: the system's zone could not be changed (%s)",
                        name, exc.reason)
            return
        self._timezone = None
        log.info("system timezone set to %s", name)

    # ---- UTC offset ------------------------------------------------------------------------
    def utc_offset(self) -> str:
        if self._utc_offset is not None:
            return self._utc_offset
        now = datetime.datetime.now(datetime.UTC)
        try:
            delta = now.astimezone(zoneinfo.ZoneInfo(self.timezone())).utcoffset()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            delta = None
        seconds = delta.total_seconds() if delta is not None else float(time.localtime().tm_gmtoff)
        return format_utc_offset(seconds)

    def set_utc_offset(self, text: str) -> None:
        try:
            self._utc_offset = parse_utc_offset(text)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        log.info("UTC offset set to %s (kept by the agent)", self._utc_offset)


def _single(value: ResourceContent, kind: type) -> object:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadRequest(f"expected a single {kind.__name__} value, got {value!r}")
    return value


class CurrentTime(ResourceBinding):
    """3/0/13: the clock's time in unix seconds; a write sets it (or keeps an offset, see SystemClock)."""

    def __init__(self, *, clock: SystemClock) -> None:
        super().__init__()
        self.clock = clock

    async def read(self) -> ResourceContent:
        return self.clock.now()

    async def write(self, value: ResourceContent) -> None:
        seconds = _single(value, int)
        assert isinstance(seconds, int)
        self.clock.set_time(seconds)
        self.changed()


class UtcOffset(ResourceBinding):
    """3/0/14: "+HH:MM" of the zone in effect, or the offset a server wrote."""

    def __init__(self, *, clock: SystemClock) -> None:
        super().__init__()
        self.clock = clock

    async def read(self) -> ResourceContent:
        return self.clock.utc_offset()

    async def write(self, value: ResourceContent) -> None:
        text = _single(value, str)
        assert isinstance(text, str)
        self.clock.set_utc_offset(text)
        self.changed()


class Timezone(ResourceBinding):
    """3/0/15: the IANA time zone name; a write changes it (system-wide when allowed)."""

    def __init__(self, *, clock: SystemClock) -> None:
        super().__init__()
        self.clock = clock

    async def read(self) -> ResourceContent:
        return self.clock.timezone()

    async def write(self, value: ResourceContent) -> None:
        text = _single(value, str)
        assert isinstance(text, str)
        await self.clock.set_timezone(text)
        self.changed()
