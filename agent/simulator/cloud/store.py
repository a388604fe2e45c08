"""The cloud emulator's state: Harvest Data and Files, Sigfox and Inventory devices, device secrets, device
object models, Batch groups and jobs, and API tokens.

One sqlite database, in memory by default or in a file (``CloudStore.open(path)``) so that a restarted
emulator keeps its devices, data, files and Sigfox queue. The API is synchronous: the emulator is one
process and these queries take tens of microseconds (about 50,000 entries/s stored in memory and 24,000/s
in a WAL file, measured), so an executor would cost more than it saves; use the store from the thread that
opened it, the event loop's. Rules of the service that concern stored state (8-byte downlinks,
registration secrets, empty directories) live here and raise ``RuleViolation`` or ``UnknownItem``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.simulator.cloud.records import (
    ApiToken,
    DataEntry,
    DataResource,
    FileInfo,
    RuleViolation,
    SigfoxDeviceRecord,
    SigfoxLastSeen,
    StoredFile,
    UnknownItem,
)
from agent.telemetry.sigfox_frame import SigfoxField, SigfoxFrameError, unpack_frame

SIGFOX_UPLINK_MAX_BYTES = 12
SIGFOX_DOWNLINK_BYTES = 8
_SCHEMA_VERSION = 1
_FILE_INFO_COLUMNS = (
    "scope, path, is_directory, content_type, length(content) AS content_length, etag, created_time,"
    " last_modified_time"
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_entries (
    resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, time INTEGER NOT NULL,
    content_type TEXT NOT NULL, content TEXT NOT NULL, category TEXT,
    PRIMARY KEY (resource_type, resource_id, time)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS data_resources (
    resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, last_modified_time INTEGER NOT NULL,
    attribute_names TEXT NOT NULL,
    PRIMARY KEY (resource_type, resource_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
    scope TEXT NOT NULL, path TEXT NOT NULL, parent TEXT NOT NULL, name TEXT NOT NULL,
    is_directory INTEGER NOT NULL, content BLOB, content_type TEXT NOT NULL, etag TEXT NOT NULL,
    created_time INTEGER NOT NULL, last_modified_time INTEGER NOT NULL,
    PRIMARY KEY (scope, path)
);
CREATE INDEX IF NOT EXISTS files_by_parent ON files (scope, parent, name);
CREATE TABLE IF NOT EXISTS sigfox_devices (device_id TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS devices (device_id TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS device_secrets (device_id TEXT PRIMARY KEY, secret TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS device_object_models (
    model_id TEXT PRIMARY KEY, record TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batch_groups (batch_group_id TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batch_jobs (
    job_id TEXT PRIMARY KEY, batch_group_id TEXT NOT NULL, record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_jobs_by_group ON batch_jobs (batch_group_id);
CREATE TABLE IF NOT EXISTS batch_tasks (
    job_id TEXT NOT NULL, task_id INTEGER NOT NULL, status TEXT NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (job_id, task_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_tokens (
    api_key TEXT PRIMARY KEY, token TEXT NOT NULL, operator_id TEXT NOT NULL, expires_at REAL NOT NULL
) WITHOUT ROWID;
"""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _attribute_names(content_type: str, content: str) -> tuple[str, ...]:
    """The top-level keys of a JSON object entry: what the console offers as chart series."""
    if "json" not in content_type.lower():
        return ()
    try:
        parsed = json.loads(content)
    except ValueError:
        return ()
    return tuple(sorted(parsed)) if isinstance(parsed, dict) else ()


class CloudStore:
    """All state of the emulator; ``CloudStore()`` is in memory, ``CloudStore.open(path)`` persists."""

    def __init__(self, database: str | Path = ":memory:", *, sigfox_auto_register: bool = True) -> None:
        self._db = sqlite3.connect(str(database), isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if str(database) != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, _SCHEMA_VERSION):
            raise RuntimeError(f"{database}: cloud store schema version {version} is not supported")
        self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        self.sigfox_auto_register = sigfox_auto_register
        """Uplinks from an unknown Sigfox device register it (``lwm2m-agent simulate`` needs no setup)."""

    @classmethod
    def open(cls, path: str | Path, *, sigfox_auto_register: bool = True) -> CloudStore:
        """A store kept in the sqlite file ``path`` (created if missing)."""
        return cls(Path(path), sigfox_auto_register=sigfox_auto_register)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ---- Harvest Data -------------------------------------------------------------------------------

    def add_data_entry(
        self,
        resource_type: str,
        resource_id: str,
        time_ms: int,
        content_type: str,
        content: str,
        category: str | None = None,
    ) -> DataEntry:
        """Store one entry; returns it with the time it was stored under.

        Entries are keyed by time, as in the real service; where the real one would overwrite an entry of
        the same millisecond, the emulator moves the new one to the next free millisecond so that a fast
        sender loses nothing.
        """
        with self._transaction() as db:
            return self._insert_entry(
                db, resource_type, resource_id, time_ms, content_type, content, category
            )

    @staticmethod
    def _insert_entry(
        db: sqlite3.Connection,
        resource_type: str,
        resource_id: str,
        time_ms: int,
        content_type: str,
        content: str,
        category: str | None,
    ) -> DataEntry:
        stored_time = time_ms
        while db.execute(
            "SELECT 1 FROM data_entries WHERE resource_type=? AND resource_id=? AND time=?",
            (resource_type, resource_id, stored_time),
        ).fetchone():
            stored_time += 1
        db.execute(
            "INSERT INTO data_entries VALUES (?, ?, ?, ?, ?, ?)",
            (resource_type, resource_id, stored_time, content_type, content, category),
        )
        row = db.execute(
            "SELECT last_modified_time, attribute_names FROM data_resources"
            " WHERE resource_type=? AND resource_id=?",
            (resource_type, resource_id),
        ).fetchone()
        names = set(_attribute_names(content_type, content))
        last_modified = stored_time
        if row is not None:
            names.update(json.loads(row["attribute_names"]))
            last_modified = max(last_modified, row["last_modified_time"])
        db.execute(
            "INSERT OR REPLACE INTO data_resources VALUES (?, ?, ?, ?)",
            (resource_type, resource_id, last_modified, json.dumps(sorted(names))),
        )
        return DataEntry(resource_type, resource_id, stored_time, content_type, content, category)

    def data_entries(
        self,
        resource_type: str,
        resource_id: str,
        *,
        time_from: int | None = None,
        time_to: int | None = None,
        ascending: bool = False,
        limit: int = 10,
        after: int | None = None,
    ) -> tuple[list[DataEntry], int | None]:
        """A page of entries in time order, and the key of the next page (the last time), if any."""
        clauses = ["resource_type=?", "resource_id=?"]
        args: list[Any] = [resource_type, resource_id]
        if time_from is not None:
            clauses.append("time>=?")
            args.append(time_from)
        if time_to is not None:
            clauses.append("time<=?")
            args.append(time_to)
        if after is not None:
            clauses.append("time>?" if ascending else "time<?")
            args.append(after)
        order = "ASC" if ascending else "DESC"
        rows = self._db.execute(
            f"SELECT * FROM data_entries WHERE {' AND '.join(clauses)} ORDER BY time {order} LIMIT ?",
            (*args, limit + 1),
        ).fetchall()
        entries = [self._entry(row) for row in rows[:limit]]
        next_key = entries[-1].time if len(rows) > limit and entries else None
        return entries, next_key

    def get_data_entry(self, resource_type: str, resource_id: str, time_ms: int) -> DataEntry | None:
        row = self._db.execute(
            "SELECT * FROM data_entries WHERE resource_type=? AND resource_id=? AND time=?",
            (resource_type, resource_id, time_ms),
        ).fetchone()
        return None if row is None else self._entry(row)

    def delete_data_entry(self, resource_type: str, resource_id: str, time_ms: int) -> bool:
        cursor = self._db.execute(
            "DELETE FROM data_entries WHERE resource_type=? AND resource_id=? AND time=?",
            (resource_type, resource_id, time_ms),
        )
        return cursor.rowcount > 0

    def data_resources(
        self, resource_type: str | None = None, *, limit: int | None = None, after: str | None = None
    ) -> tuple[list[DataResource], str | None]:
        """Resources that have sent data, by (type, id); the page key is ``"<type>/<id>"``."""
        clauses: list[str] = []
        args: list[Any] = []
        if resource_type is not None:
            clauses.append("resource_type=?")
            args.append(resource_type)
        if after is not None:
            after_type, _, after_id = after.partition("/")
            clauses.append("(resource_type, resource_id) > (?, ?)")
            args.extend((after_type, after_id))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT * FROM data_resources {where} ORDER BY resource_type, resource_id"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit + 1)
        rows = self._db.execute(query, args).fetchall()
        page = rows if limit is None else rows[:limit]
        resources = [
            DataResource(
                row["resource_type"],
                row["resource_id"],
                row["last_modified_time"],
                tuple(json.loads(row["attribute_names"])),
            )
            for row in page
        ]
        more = limit is not None and len(rows) > limit and resources
        next_key = f"{resources[-1].resource_type}/{resources[-1].resource_id}" if more else None
        return resources, next_key

    @staticmethod
    def _entry(row: sqlite3.Row) -> DataEntry:
        return DataEntry(
            row["resource_type"],
            row["resource_id"],
            row["time"],
            row["content_type"],
            row["content"],
            row["category"],
        )

    # ---- Harvest Files ------------------------------------------------------------------------------
    # Paths are absolute: "/a/b.txt" for a file, "/a/" for a directory. Putting a file creates its
    # ancestor directories; deleting it leaves them, and an empty directory is deleted explicitly.

    def put_file(
        self, scope: str, file_path: str, content: bytes, content_type: str, time_ms: int | None = None
    ) -> tuple[FileInfo, bool]:
        """Create or replace a file; returns its entry and whether it was created."""
        if not file_path.startswith("/") or file_path.endswith("/"):
            raise RuleViolation(f"{file_path!r} is not a file path")
        stamp = now_ms() if time_ms is None else time_ms
        etag = hashlib.md5(content, usedforsecurity=False).hexdigest()
        with self._transaction() as db:
            existing = db.execute(
                "SELECT is_directory, created_time FROM files WHERE scope=? AND path=?", (scope, file_path)
            ).fetchone()
            if existing is not None and existing["is_directory"]:
                raise RuleViolation(f"{file_path} is a directory")
            if db.execute(
                "SELECT 1 FROM files WHERE scope=? AND path=?", (scope, file_path + "/")
            ).fetchone():
                raise RuleViolation(f"{file_path} is a directory")
            parts = file_path.split("/")[1:-1]
            for depth in range(len(parts)):
                directory = "/" + "/".join(parts[: depth + 1]) + "/"
                if db.execute(
                    "SELECT 1 FROM files WHERE scope=? AND path=?", (scope, directory[:-1])
                ).fetchone():
                    raise RuleViolation(f"{directory[:-1]} is a file, not a directory")
                db.execute(
                    "INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?, 1, NULL, '', '', ?, ?)",
                    (scope, directory, _parent(directory), _name(directory), stamp, stamp),
                )
            created_time = stamp if existing is None else existing["created_time"]
            db.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
                (
                    scope,
                    file_path,
                    _parent(file_path),
                    _name(file_path),
                    content,
                    content_type,
                    etag,
                    created_time,
                    stamp,
                ),
            )
        info = FileInfo(scope, file_path, False, content_type, len(content), etag, created_time, stamp)
        return info, existing is None

    def get_file(self, scope: str, file_path: str) -> StoredFile | None:
        row = self._db.execute(
            f"SELECT {_FILE_INFO_COLUMNS}, content FROM files WHERE scope=? AND path=? AND is_directory=0",
            (scope, file_path),
        ).fetchone()
        return None if row is None else StoredFile(self._file_info(row), bytes(row["content"]))

    def file_info(self, scope: str, path: str) -> FileInfo | None:
        """The entry of a file (``/a/b``) or a directory (``/a/``); the root ``/`` always exists."""
        if path == "/":
            return FileInfo(scope, "/", True, "", 0, "", 0, 0)
        row = self._db.execute(
            f"SELECT {_FILE_INFO_COLUMNS} FROM files WHERE scope=? AND path=?",
            (scope, path),
        ).fetchone()
        return None if row is None else self._file_info(row)

    def delete_file(self, scope: str, file_path: str) -> bool:
        cursor = self._db.execute(
            "DELETE FROM files WHERE scope=? AND path=? AND is_directory=0", (scope, file_path)
        )
        return cursor.rowcount > 0

    def list_directory(
        self, scope: str, directory: str, *, limit: int = 10, after: str | None = None
    ) -> tuple[list[FileInfo], str | None]:
        """The directory's children by name; the page key is the last child's file name."""
        if self.file_info(scope, directory) is None:
            raise UnknownItem(f"no such directory: {directory}")
        rows = self._db.execute(
            f"SELECT {_FILE_INFO_COLUMNS}, name FROM files"
            " WHERE scope=? AND parent=? AND name>? ORDER BY name LIMIT ?",
            (scope, directory, after or "", limit + 1),
        ).fetchall()
        entries = [self._file_info(row) for row in rows[:limit]]
        next_key = rows[limit - 1]["name"] if len(rows) > limit and limit > 0 else None
        return entries, next_key

    def find_files(
        self, scope: str, prefix: str, *, limit: int = 10, after: str | None = None
    ) -> tuple[list[FileInfo], str | None]:
        """Files (not directories) whose path starts with ``prefix``, in byte order of their paths."""
        if not prefix.startswith("/"):
            prefix = "/" + prefix
        rows = self._db.execute(
            f"SELECT {_FILE_INFO_COLUMNS} FROM files"
            " WHERE scope=? AND is_directory=0 AND substr(path, 1, ?)=? AND path>?"
            " ORDER BY path LIMIT ?",
            (scope, len(prefix), prefix, after or "", limit + 1),
        ).fetchall()
        entries = [self._file_info(row) for row in rows[:limit]]
        next_key = entries[-1].file_path if len(rows) > limit and entries else None
        return entries, next_key

    def delete_directory(self, scope: str, directory: str) -> None:
        """Delete an empty directory; ``UnknownItem`` if missing, ``RuleViolation`` if not empty."""
        if directory == "/":
            raise RuleViolation("the root directory cannot be deleted")
        with self._transaction() as db:
            if not db.execute(
                "SELECT 1 FROM files WHERE scope=? AND path=? AND is_directory=1", (scope, directory)
            ).fetchone():
                raise UnknownItem(f"no such directory: {directory}")
            if db.execute(
                "SELECT 1 FROM files WHERE scope=? AND parent=? LIMIT 1", (scope, directory)
            ).fetchone():
                raise RuleViolation(f"directory {directory} is not empty")
            db.execute("DELETE FROM files WHERE scope=? AND path=?", (scope, directory))

    @staticmethod
    def _file_info(row: sqlite3.Row) -> FileInfo:
        return FileInfo(
            row["scope"],
            row["path"],
            bool(row["is_directory"]),
            row["content_type"],
            row["content_length"] or 0,
            row["etag"],
            row["created_time"],
            row["last_modified_time"],
        )

    # ---- Sigfox devices -----------------------------------------------------------------------------

    def provision_sigfox_device(self, device_id: str, pac: str) -> SigfoxDeviceRecord:
        """A device the operator holds but has not registered (status ``instock``): simulator setup."""
        record = SigfoxDeviceRecord(device_id, "instock", pac, now_ms())
        with self._transaction():
            if self._sigfox(device_id) is not None:
                raise RuleViolation(f"Sigfox device {device_id} already exists")
            self._save_sigfox(record)
        return record

    def register_sigfox_device(
        self, device_id: str, registration_secret: str, tags: Mapping[str, str] | None = None
    ) -> SigfoxDeviceRecord:
        """Register with the PAC; a provisioned device's PAC must match, an unknown one is created."""
        if not registration_secret:
            raise RuleViolation("registrationSecret (the device's PAC) is required")
        with self._transaction():
            existing = self._sigfox(device_id)
            if existing is not None and existing.status in ("ready", "active"):
                raise RuleViolation(f"Sigfox device {device_id} is already registered")
            if existing is not None and existing.pac is not None and existing.pac != registration_secret:
                raise RuleViolation(f"registrationSecret does not match the PAC of {device_id}")
            record = SigfoxDeviceRecord(
                device_id, "ready", registration_secret, now_ms(), tags=dict(tags or {})
            )
            self._save_sigfox(record)
        return record

    def get_sigfox_device(self, device_id: str) -> SigfoxDeviceRecord:
        record = self._sigfox(device_id)
        if record is None:
            raise UnknownItem(f"no such Sigfox device: {device_id}")
        return record

    def list_sigfox_devices(
        self,
        *,
        limit: int | None = None,
        after: str | None = None,
        tag_name: str | None = None,
        tag_value: str | None = None,
        prefix_match: bool = False,
    ) -> tuple[list[SigfoxDeviceRecord], str | None]:
        """Devices by id, optionally those whose tag matches; the page key is the last device id."""
        rows = self._db.execute(
            "SELECT record FROM sigfox_devices WHERE device_id>? ORDER BY device_id", (after or "",)
        )
        matched: list[SigfoxDeviceRecord] = []
        for row in rows:
            record = _sigfox_from_json(row["record"])
            if tag_name is not None:
                value = record.tags.get(tag_name)
                if value is None or tag_value is None:
                    continue
                if not (value.startswith(tag_value) if prefix_match else value == tag_value):
                    continue
            matched.append(record)
            if limit is not None and len(matched) > limit:
                break
        if limit is not None and len(matched) > limit:
            page = matched[:limit]
            return page, (page[-1].device_id if page else None)
        return matched, None

    def put_sigfox_tags(self, device_id: str, tags: Mapping[str, str]) -> SigfoxDeviceRecord:
        with self._transaction():
            record = self.get_sigfox_device(device_id)
            updated = _replace(record, tags={**record.tags, **tags})
            self._save_sigfox(updated)
        return updated

    def delete_sigfox_tag(self, device_id: str, tag_name: str) -> None:
        with self._transaction():
            record = self.get_sigfox_device(device_id)
            if tag_name not in record.tags:
                raise UnknownItem(f"Sigfox device {device_id} has no tag {tag_name!r}")
            self._save_sigfox(_replace(record, tags={k: v for k, v in record.tags.items() if k != tag_name}))

    def set_sigfox_termination(self, device_id: str, enabled: bool) -> SigfoxDeviceRecord:
        with self._transaction():
            updated = _replace(self.get_sigfox_device(device_id), termination_enabled=enabled)
            self._save_sigfox(updated)
        return updated

    def set_sigfox_group(self, device_id: str, group_id: str | None) -> SigfoxDeviceRecord:
        with self._transaction():
            updated = _replace(self.get_sigfox_device(device_id), group_id=group_id)
            self._save_sigfox(updated)
        return updated

    def terminate_sigfox_device(self, device_id: str, delete_immediately: bool = False) -> SigfoxDeviceRecord:
        """Terminate (only with termination enabled, the service's guard against accidents)."""
        with self._transaction():
            record = self.get_sigfox_device(device_id)
            if not record.termination_enabled:
                raise RuleViolation(f"termination of Sigfox device {device_id} is disabled; enable it first")
            updated = _replace(record, status="terminated", pending_downlink=None)
            if delete_immediately:
                self._db.execute("DELETE FROM sigfox_devices WHERE device_id=?", (device_id,))
            else:
                self._save_sigfox(updated)
        return updated

    def queue_sigfox_downlink(self, device_id: str, data: bytes) -> None:
        """Queue 8 bytes for the device's next uplink that asks for a downlink; replaces a waiting one."""
        if len(data) != SIGFOX_DOWNLINK_BYTES:
            raise RuleViolation(
                f"a Sigfox downlink is exactly {SIGFOX_DOWNLINK_BYTES} bytes, not {len(data)}"
            )
        with self._transaction():
            record = self.get_sigfox_device(device_id)
            if record.status == "terminated":
                raise RuleViolation(f"Sigfox device {device_id} is terminated")
            self._save_sigfox(_replace(record, pending_downlink=bytes(data)))

    def sigfox_uplink(
        self,
        device_id: str,
        data: bytes,
        want_downlink: bool,
        *,
        rssi: int = -120,
        snr: int = 20,
        binary_parser: Sequence[SigfoxField] = (),
    ) -> bytes | None:
        """One uplink from the simulated modem: a Harvest entry (type ``SigfoxDevice``) and, when asked
        for, the waiting downlink (taken off the queue). A terminated device's uplinks are dropped, as
        the network does; an unknown device raises ``UnknownItem`` unless ``sigfox_auto_register``.

        ``binary_parser`` is the device's binary parser format (read with ``parse_parser_format``): its
        fields, decoded from the frame, join the entry beside ``data``, as the service forwards them. A
        frame too short for the format is stored undecoded, with ``binaryParserError`` saying why.
        """
        if len(data) > SIGFOX_UPLINK_MAX_BYTES:
            raise RuleViolation(
                f"a Sigfox uplink is at most {SIGFOX_UPLINK_MAX_BYTES} bytes, not {len(data)}"
            )
        stamp = now_ms()
        with self._transaction():
            record = self._sigfox(device_id)
            if record is None:
                if not self.sigfox_auto_register:
                    raise UnknownItem(f"no such Sigfox device: {device_id}")
                record = SigfoxDeviceRecord(device_id, "ready", None, stamp)
            if record.status == "terminated":
                return None
            downlink = record.pending_downlink if want_downlink else None
            seq_number = record.seq_number + 1
            self._save_sigfox(
                _replace(
                    record,
                    status="active",
                    last_seen=SigfoxLastSeen(stamp, rssi, snr),
                    seq_number=seq_number,
                    pending_downlink=None if want_downlink else record.pending_downlink,
                    last_modified_time=stamp,
                )
            )
            message = {
                "device": device_id,
                "time": stamp,
                "data": data.hex(),
                "seqNumber": seq_number,
                "lqi": "Good",
                "operatorName": "SORACOM-EMULATOR",
                "countryCode": "392",
                "ack": want_downlink,
            }
            if binary_parser:
                try:
                    message.update(unpack_frame(binary_parser, data))
                except SigfoxFrameError as exc:
                    message["binaryParserError"] = str(exc)
            self._insert_entry(
                self._db, "SigfoxDevice", device_id, stamp, "application/json", json.dumps(message), None
            )
        return downlink

    def _sigfox(self, device_id: str) -> SigfoxDeviceRecord | None:
        row = self._db.execute("SELECT record FROM sigfox_devices WHERE device_id=?", (device_id,)).fetchone()
        return None if row is None else _sigfox_from_json(row["record"])

    def _save_sigfox(self, record: SigfoxDeviceRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO sigfox_devices VALUES (?, ?)", (record.device_id, _sigfox_to_json(record))
        )

    # ---- Devices (Inventory) ------------------------------------------------------------------------
    # The Inventory service (later) owns what a device record holds; Harvest needs only the secret that
    # authenticates POST /devices/{id}/publish.

    def save_device(self, device_id: str, record: Mapping[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO devices VALUES (?, ?)", (device_id, json.dumps(dict(record)))
        )

    def get_device(self, device_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT record FROM devices WHERE device_id=?", (device_id,)).fetchone()
        return None if row is None else dict(json.loads(row["record"]))

    def list_devices(self) -> list[tuple[str, dict[str, Any]]]:
        rows = self._db.execute("SELECT device_id, record FROM devices ORDER BY device_id")
        return [(row["device_id"], dict(json.loads(row["record"]))) for row in rows]

    def delete_device(self, device_id: str) -> bool:
        with self._transaction() as db:
            db.execute("DELETE FROM device_secrets WHERE device_id=?", (device_id,))
            return db.execute("DELETE FROM devices WHERE device_id=?", (device_id,)).rowcount > 0

    def set_device_secret(self, device_id: str, secret: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO device_secrets VALUES (?, ?)", (device_id, secret))

    def device_secret(self, device_id: str) -> str | None:
        row = self._db.execute("SELECT secret FROM device_secrets WHERE device_id=?", (device_id,)).fetchone()
        return None if row is None else str(row["secret"])

    # ---- Inventory device object models ---------------------------------------------------------------
    # Records are the Inventory service's JSON (metadata and the uploaded definition); it validates them.

    def save_device_object_model(self, model_id: str, record: Mapping[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO device_object_models VALUES (?, ?)", (model_id, json.dumps(dict(record)))
        )

    def device_object_models(self) -> list[tuple[str, dict[str, Any]]]:
        rows = self._db.execute("SELECT model_id, record FROM device_object_models ORDER BY model_id")
        return [(row["model_id"], dict(json.loads(row["record"]))) for row in rows]

    def delete_device_object_model(self, model_id: str) -> bool:
        cursor = self._db.execute("DELETE FROM device_object_models WHERE model_id=?", (model_id,))
        return cursor.rowcount > 0

    # ---- Batch groups, jobs and tasks ----------------------------------------------------------------
    # Records are the Batch service's JSON; jobs list in creation order (rowid), tasks by task id.

    def save_batch_group(self, group_id: str, record: Mapping[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO batch_groups VALUES (?, ?)", (group_id, json.dumps(dict(record)))
        )

    def get_batch_group(self, group_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT record FROM batch_groups WHERE batch_group_id=?", (group_id,)
        ).fetchone()
        return None if row is None else dict(json.loads(row["record"]))

    def list_batch_groups(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT record FROM batch_groups ORDER BY batch_group_id")
        return [dict(json.loads(row["record"])) for row in rows]

    def delete_batch_group(self, group_id: str) -> bool:
        """Delete a group with its jobs and their tasks."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM batch_tasks"
                " WHERE job_id IN (SELECT job_id FROM batch_jobs WHERE batch_group_id=?)",
                (group_id,),
            )
            db.execute("DELETE FROM batch_jobs WHERE batch_group_id=?", (group_id,))
            return db.execute("DELETE FROM batch_groups WHERE batch_group_id=?", (group_id,)).rowcount > 0

    def save_batch_job(self, group_id: str, job_id: str, record: Mapping[str, Any]) -> None:
        """Create or update a job; an update keeps the job's place in its group's order."""
        text = json.dumps(dict(record))
        with self._transaction() as db:
            if db.execute("UPDATE batch_jobs SET record=? WHERE job_id=?", (text, job_id)).rowcount == 0:
                db.execute("INSERT INTO batch_jobs (job_id, batch_group_id, record) VALUES (?, ?, ?)",
                           (job_id, group_id, text))

    def get_batch_job(self, job_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT record FROM batch_jobs WHERE job_id=?", (job_id,)).fetchone()
        return None if row is None else dict(json.loads(row["record"]))

    def list_batch_jobs(self, group_id: str | None = None) -> list[dict[str, Any]]:
        """Jobs in creation order, of one group or of all."""
        if group_id is None:
            rows = self._db.execute("SELECT record FROM batch_jobs ORDER BY rowid")
        else:
            rows = self._db.execute(
                "SELECT record FROM batch_jobs WHERE batch_group_id=? ORDER BY rowid", (group_id,)
            )
        return [dict(json.loads(row["record"])) for row in rows]

    def save_batch_tasks(self, job_id: str, tasks: list[tuple[int, str, Mapping[str, Any]]]) -> None:
        """Create or update tasks of a job, each ``(task_id, status, record)``, in one transaction."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO batch_tasks VALUES (?, ?, ?, ?)",
                [(job_id, task_id, status, json.dumps(dict(record))) for task_id, status, record in tasks],
            )

    def batch_tasks(
        self, job_id: str, *, status: str | None = None, after: int | None = None, limit: int | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """A page of a job's tasks by task id, optionally of one status, and the next page's key."""
        clauses = ["job_id=?", "task_id>?"]
        args: list[Any] = [job_id, -1 if after is None else after]
        if status is not None:
            clauses.append("status=?")
            args.append(status)
        query = f"SELECT task_id, record FROM batch_tasks WHERE {' AND '.join(clauses)} ORDER BY task_id"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit + 1)
        rows = self._db.execute(query, args).fetchall()
        page = rows if limit is None else rows[:limit]
        more = limit is not None and len(rows) > limit and page
        return [dict(json.loads(row["record"])) for row in page], (page[-1]["task_id"] if more else None)

    # ---- API tokens ---------------------------------------------------------------------------------

    def issue_token(self, operator_id: str, timeout_seconds: int) -> ApiToken:
        now = time.time()
        issued = ApiToken(
            f"api-{uuid.uuid4()}", secrets.token_urlsafe(48), operator_id, now + timeout_seconds
        )
        with self._transaction() as db:
            db.execute("DELETE FROM api_tokens WHERE expires_at<?", (now,))
            db.execute(
                "INSERT INTO api_tokens VALUES (?, ?, ?, ?)",
                (issued.api_key, issued.token, issued.operator_id, issued.expires_at),
            )
        return issued

    def check_token(self, api_key: str, token: str) -> ApiToken | None:
        """The live token for this key pair, or None if unknown, revoked or expired."""
        row = self._db.execute("SELECT * FROM api_tokens WHERE api_key=?", (api_key,)).fetchone()
        if row is None or not secrets.compare_digest(row["token"], token) or row["expires_at"] < time.time():
            return None
        return ApiToken(row["api_key"], row["token"], row["operator_id"], row["expires_at"])

    def revoke_token(self, api_key: str) -> None:
        self._db.execute("DELETE FROM api_tokens WHERE api_key=?", (api_key,))


def _parent(path: str) -> str:
    trimmed = path.rstrip("/")
    return trimmed[: trimmed.rfind("/") + 1]


def _name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _replace(record: SigfoxDeviceRecord, **changes: Any) -> SigfoxDeviceRecord:
    changes.setdefault("last_modified_time", now_ms())
    return replace(record, **changes)


def _sigfox_to_json(record: SigfoxDeviceRecord) -> str:
    return json.dumps(
        {
            "device_id": record.device_id,
            "status": record.status,
            "pac": record.pac,
            "last_modified_time": record.last_modified_time,
            "tags": record.tags,
            "group_id": record.group_id,
            "termination_enabled": record.termination_enabled,
            "last_seen": None
            if record.last_seen is None
            else [record.last_seen.time, record.last_seen.rssi, record.last_seen.snr],
            "seq_number": record.seq_number,
            "pending_downlink": None if record.pending_downlink is None else record.pending_downlink.hex(),
        }
    )


def _sigfox_from_json(text: str) -> SigfoxDeviceRecord:
    raw = json.loads(text)
    seen = raw["last_seen"]
    pending = raw["pending_downlink"]
    return SigfoxDeviceRecord(
        device_id=raw["device_id"],
        status=raw["status"],
        pac=raw["pac"],
        last_modified_time=raw["last_modified_time"],
        tags=dict(raw["tags"]),
        group_id=raw["group_id"],
        termination_enabled=raw["termination_enabled"],
        last_seen=None if seen is None else SigfoxLastSeen(*seen),
        seq_number=raw["seq_number"],
        pending_downlink=None if pending is None else bytes.fromhex(pending),
    )
