"""The state directory's permissions: owner-only, checked at start; and its emptying by a factory reset.

It holds what an attacker on the device would want (the PSK a bootstrap server handed out, and
whatever else the agent saves), so the agent does not trust the permissions it finds: a directory
that group or others may enter is tightened to 0700 and its files lose their group and other bits
(0644 becomes 0600), and anything the agent's user does not own is refused with the fix. systemd
creates ``StateDirectory=`` as 0700 already; the check is for installs that are not the shipped
unit, a state directory copied from elsewhere, and files an older version left behind.

Symbolic links inside the directory are left alone (changing their mode would change their
target's); the agent never writes one there.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE = stat.S_IRWXG | stat.S_IRWXO


class StateDirError(Exception):
    """The state directory cannot be made private: the message names the path and the fix."""

    def __init__(self, path: Path | str, problem: str, fix: str) -> None:
        super().__init__(f"state directory {path}: {problem}; fix: {fix}")
        self.path = Path(path)
        self.problem = problem
        self.fix = fix


def secure_state_dir(path: Path | str) -> Path:
    """Create ``path`` (0700) or make the existing one private; return its real path.

    Raises StateDirError when it is not a directory, is owned by another user, or cannot be
    tightened.
    """
    given = Path(path)
    real = Path(os.path.realpath(given))
    if real.exists() and not real.is_dir():
        raise StateDirError(given, "is not a directory", "give --state-dir a directory")
    try:
        real.mkdir(mode=0o700, parents=True, exist_ok=True)
        top = os.stat(real)
    except OSError as exc:
        raise StateDirError(given, f"cannot create it ({exc.strerror})",
                            "create it for the agent's user, or give --state-dir a writable place") from None
    if not stat.S_ISDIR(top.st_mode):
        raise StateDirError(given, "is not a directory", "give --state-dir a directory")
    tightened: list[str] = []
    _check(real, top, tightened, given)
    for root, dirs, files in os.walk(real, onerror=_walk_error(given)):
        for name in dirs + files:
            entry = Path(root) / name
            try:
                info = os.lstat(entry)
            except FileNotFoundError:
                continue
            if not stat.S_ISLNK(info.st_mode):
                _check(entry, info, tightened, given)
    if tightened:
        log.warning("state directory %s was open to other users; removed their access to %s", real,
                    ", ".join(tightened[:5]) + (f" and {len(tightened) - 5} more" if len(tightened) > 5 else ""))
    return real


def _check(entry: Path, info: os.stat_result, tightened: list[str], given: Path) -> None:
    uid = os.geteuid()
    if info.st_uid != uid:
        raise StateDirError(entry, f"is owned by uid {info.st_uid} but the agent runs as uid {uid}",
                            f"chown -R {uid} {given} (or run the agent as the user that owns it)")
    mode = stat.S_IMODE(info.st_mode)
    if not mode & PRIVATE:
        return
    wanted = (mode & ~PRIVATE) | (0o700 if stat.S_ISDIR(info.st_mode) else 0)
    try:
        os.chmod(entry, wanted)
    except OSError as exc:
        raise StateDirError(entry, f"mode {mode:04o} lets other users in and chmod failed ({exc.strerror})",
                            f"chmod -R go-rwx {given}") from None
    tightened.append(f"{entry} ({mode:04o} -> {wanted:04o})")


def _walk_error(given: Path) -> Callable[[OSError], None]:
    def raise_it(exc: OSError) -> None:
        raise StateDirError(exc.filename or given, f"cannot be read ({exc.strerror})",
                            f"chmod -R u+rwX {given}")
    return raise_it


def clear_state_dir(path: Path, keep: frozenset[str] = frozenset()) -> list[str]:
    """Remove everything in ``path`` except the names in ``keep``; the names removed (factory reset)."""
    removed: list[str] = []
    for entry in sorted(path.iterdir()):
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
        removed.append(entry.name)
    return removed
