"""One owner-only directory of small JSON documents, each replaced atomically.

The directory holds a pre-shared key, so it is 0700 and every file 0600, whoever created it. A write
goes to a temporary file, is fsynced, renamed over the old one and the directory fsynced: a power cut
or a ``kill -9`` at any moment leaves either the old document or the new one, never half of each.
A document that cannot be read anyway (a disk error, a hand edit) is set aside under a new name --
never deleted, someone may want to look at it -- and reported in one log line; the agent then
starts as if new.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import time
from pathlib import Path

log = logging.getLogger(__name__)


class StateDirectoryError(Exception):
    """The state directory cannot be used (a file where it should be, owned by someone else, ...)."""


class StateDirectory:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def prepare(self) -> None:
        """Create the directory (0700), or tighten an existing one we own to 0700 with files 0600."""
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = self.path.stat()
        except OSError as exc:
            raise StateDirectoryError(f"state directory {self.path}: {exc.strerror}; "
                                      "fix: give a writable --state-dir") from None
        if not stat.S_ISDIR(info.st_mode):
            raise StateDirectoryError(f"state directory {self.path} is not a directory; fix: give another --state-dir")
        if info.st_uid != os.geteuid():
            raise StateDirectoryError(
                f"state directory {self.path} belongs to uid {info.st_uid}, not to this agent (uid {os.geteuid()}); "
                f"fix: chown -R {os.geteuid()} {self.path}, or give another --state-dir")
        if stat.S_IMODE(info.st_mode) != 0o700:
            log.warning("state directory %s had mode %o; tightened to 0700", self.path, stat.S_IMODE(info.st_mode))
            os.chmod(self.path, 0o700)
        for entry in self.path.iterdir():
            with contextlib.suppress(OSError):
                mode = stat.S_IMODE(entry.lstat().st_mode)
                if entry.is_file() and not entry.is_symlink() and mode & 0o077:
                    os.chmod(entry, mode & 0o700)

    def read_json(self, name: str) -> object | None:
        """The document ``name``, or None when there is none (or it was unreadable and set aside)."""
        path = self.path / name
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._set_aside(path, exc.strerror or str(exc))
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            self._set_aside(path, f"not JSON ({exc})")
            return None

    def reject(self, name: str, reason: str) -> None:
        """A document that parsed but makes no sense: set it aside like an unreadable one."""
        path = self.path / name
        if path.exists():
            self._set_aside(path, reason)

    def write_json(self, name: str, data: object) -> Path:
        """Replace the document ``name`` with ``data``, atomically and durably (mode 0600)."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.path / name
        tmp = self.path / f".{name}.tmp"
        payload = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        self._sync_directory()
        return path

    def discard(self, name: str) -> None:
        (self.path / name).unlink(missing_ok=True)

    def _sync_directory(self) -> None:
        # The rename is durable only once the directory entry is on disk.
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _set_aside(self, path: Path, reason: str) -> None:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        n = 1
        while aside.exists():
            aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}-{n}")
            n += 1
        try:
            os.replace(path, aside)
        except OSError as exc:
            log.error("state file %s is unusable (%s) and could not be set aside (%s); starting as if new",
                      path, reason, exc.strerror)
            return
        log.error("state file %s is unusable (%s); set aside as %s, starting as if new", path, reason, aside.name)
