"""Harvest Files: ``PUT`` of a file (a log, a command's output, a CSV of buffered readings) to a path.

The file's content goes into the durable queue when it is taken (a snapshot: a log that rotates later
changes nothing), and leaves as ``PUT {files_url}{path}``. The path comes from the profile's template,
filled from the first reading of the file: ``{id}`` (reading id), ``{time}`` (UNIX ms), ``{datetime}``
(``20250501T120000Z``) and ``{name}`` (the destination). A retry therefore ``PUT``\\ s the same path again
and replaces what an earlier, unanswered attempt may have stored: a retry is safe.

A destination with resources and no file or command writes CSV: every reading queued since the last
upload (up to ``rows_per_file``) becomes one row, under a header of ``id``, ``time`` and the resource keys.
After a crash the file is rebuilt from the same first reading, so it lands on the same path.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from ..hardware.process import CommandFailed, run_command
from .delivery import DeliveryError
from .harvest import HttpRequest, HttpTransport
from .queue import Reading
from .settings import DestinationSettings, FileSource


def file_path(template: str, reading: Reading, name: str) -> str:
    """The upload path for a file whose first reading is ``reading``."""
    stamp = datetime.fromtimestamp(reading.taken_ms / 1000, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    return (template.replace("{id}", reading.reading_id).replace("{time}", str(reading.taken_ms))
            .replace("{datetime}", stamp).replace("{name}", name))


def csv_file(keys: Sequence[str], readings: Sequence[Reading], id_key: str = "id", time_key: str = "time") -> bytes:
    """One CSV: a header, then a row per reading (a JSON object of values) in queue order."""
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: CRLF lines, so a CR or LF inside a value gets quoted
    writer.writerow([id_key, time_key, *keys])
    for reading in readings:
        values = json.loads(reading.payload)
        writer.writerow([reading.reading_id, reading.taken_ms, *("" if values.get(k) is None else values[k]
                                                                 for k in keys)])
    return out.getvalue().encode()


async def take_file(source: FileSource, limit: int) -> bytes:
    """The content of ``source`` now (at most ``limit`` bytes); raises DeliveryError when it cannot be had."""
    if source.path is not None:
        try:
            with open(source.path, "rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            raise DeliveryError(f"cannot read {source.path}: {exc.strerror or exc}") from None
    else:
        assert source.command is not None
        try:
            data = (await run_command(source.command, timeout=source.timeout)).stdout
        except CommandFailed as exc:
            raise DeliveryError(exc.reason) from None
    if len(data) > limit:
        raise DeliveryError(f"the file is larger than the queue's max_bytes ({limit})")
    return data


class FilesTransport:
    """``PUT`` each file (or each batch of CSV rows) to Harvest Files."""

    def __init__(self, dest: DestinationSettings, files_url: str, *, rows_per_file: int = 100) -> None:
        self.dest = dest
        self.description = f"Harvest Files {files_url}"
        self.batch_size = rows_per_file if dest.file_source is None else 1
        self.pace = dest.interval if dest.file_source is None else 0.0
        self._base = files_url.rstrip("/")
        self._keys = [key for key, _ in dest.resources]
        self._http = HttpTransport(self.description, self._request)
        self._pending: Sequence[Reading] = ()

    def _request(self, first: Reading) -> HttpRequest:
        body = first.payload if self.dest.file_source is not None else csv_file(
            self._keys, self._pending, self.dest.id_key, self.dest.time_key)
        path = file_path(self.dest.file_path, first, self.dest.name)
        return HttpRequest("PUT", self._base + path, body, {"Content-Type": self.dest.content_type})

    async def deliver(self, reading: Reading) -> None:
        await self.deliver_many([reading])

    async def deliver_many(self, readings: Sequence[Reading]) -> None:
        self._pending = readings
        await self._http.deliver(readings[0])

    async def close(self) -> None:
        await self._http.close()
