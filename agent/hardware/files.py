"""Resources backed by files, in the style of the Go agent inventoryd.

inventoryd (1stship/inventoryd) keeps every resource as a file ``<dir>/<object>/<instance>/<resource>``:
Read returns the file's content, Write replaces it, Execute runs the file as a program with the
server's argument on stdin, and an executable ``<resource>.read`` / ``<resource>.write`` next to it
takes over Read (its stdout is the value) or Write (the value on its stdin). That makes any
device scriptable with nothing but files, and lets other programs on the device publish values
by writing a file. :func:`file_tree_binding` builds exactly that layout; :class:`FileBinding` and
:class:`ExecutableFile` are the pieces, usable for any path (e.g. a value in /run/...).

Unlike inventoryd, a write replaces the file atomically (temporary file in the same directory,
fsync, ``os.replace``, fsync of the directory), so a reader never sees half a value and a power cut
leaves the old value or the new one, never an empty file. Hooks and executables run without a
shell, with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import tempfile
from pathlib import Path

from ..core.errors import InternalError, ServiceUnavailable
from ..core.model import ResourceModel, ResourceType
from ..core.values import value_to_text
from ..tree.binding import ResourceBinding, ResourceContent
from .errors import HardwareConfigError
from .polling import PolledBinding
from .process import CommandFailed, check_timeout, run_command
from .readings import parse_reading
from .ticker import Ticker


def _check_path(path: object, field: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise HardwareConfigError(field, f"{path!r} is not a file path", f"give {field} as a path string")
    return Path(path)


def replace_file_atomically(path: Path, data: bytes) -> None:
    """Replace ``path``'s content with ``data`` so readers and power cuts see old or new, never half."""
    directory = path.parent
    mode: int | None = None
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(path.stat().st_mode)
    fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    # The rename is only durable once the directory entry is on disk too.
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _value_bytes(value: ResourceContent) -> bytes:
    if isinstance(value, dict):
        raise InternalError("a file binding holds one value, not resource instances")
    if isinstance(value, bytes):
        return value
    return (value_to_text(value) + "\n").encode()


class FileBinding(PolledBinding):
    """A resource whose value is a file's content, with optional read and write hook programs.

    Read: the ``read_hook``'s stdout if given, else the file; stripped and parsed to ``rtype``
    (Opaque: the raw bytes). Write (when ``writable``): the value on the ``write_hook``'s stdin if
    given, else an atomic replace of the file (text plus a newline; Opaque: the raw bytes).
    """

    def __init__(
        self,
        *,
        path: str | os.PathLike[str],
        rtype: ResourceType,
        writable: bool = True,
        read_hook: str | os.PathLike[str] | None = None,
        write_hook: str | os.PathLike[str] | None = None,
        hook_timeout: float = 10.0,
        poll_interval: float | None = None,
        ticker: Ticker | None = None,
    ) -> None:
        super().__init__()
        if rtype is ResourceType.NONE:
            raise HardwareConfigError("rtype", "an executable resource cannot be a value file",
                                      "bind it to an ExecutableFile instead")
        self.path = _check_path(path, "path")
        self.rtype = rtype
        self.writable = writable
        self.read_hook = _check_path(read_hook, "read_hook") if read_hook is not None else None
        self.write_hook = _check_path(write_hook, "write_hook") if write_hook is not None else None
        self.hook_timeout = check_timeout(hook_timeout, "hook_timeout")
        self.poll_changes(poll_interval, ticker)

    def __repr__(self) -> str:
        return f"FileBinding({str(self.path)!r})"

    async def read(self) -> ResourceContent:
        if self.read_hook is not None:
            try:
                data = (await run_command([str(self.read_hook)], timeout=self.hook_timeout)).stdout
            except CommandFailed as exc:
                raise ServiceUnavailable(exc.reason) from None
            source = str(self.read_hook)
        else:
            try:
                data = self.path.read_bytes()
            except OSError as exc:
                raise ServiceUnavailable(f"cannot read {self.path}: {exc.strerror or exc}") from None
            source = str(self.path)
        if self.rtype is ResourceType.OPAQUE:
            return data
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise ServiceUnavailable(f"{source} does not hold UTF-8 text") from None
        return parse_reading(text, self.rtype, source)

    async def write(self, value: ResourceContent) -> None:
        if not self.writable:
            await super().write(value)
            return
        data = _value_bytes(value)
        if self.write_hook is not None:
            try:
                await run_command([str(self.write_hook)], stdin=data, timeout=self.hook_timeout)
            except CommandFailed as exc:
                raise InternalError(exc.reason) from None
        else:
            try:
                # fsync on an SD card can take tens of milliseconds: keep it off the event loop.
                await asyncio.to_thread(replace_file_atomically, self.path, data)
            except OSError as exc:
                raise InternalError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self.changed()


class ExecutableFile(ResourceBinding):
    """An executable resource: Execute runs the program at ``path`` with the arguments on stdin."""

    def __init__(self, *, path: str | os.PathLike[str], timeout: float = 60.0) -> None:
        super().__init__()
        self.path = _check_path(path, "path")
        self.timeout = check_timeout(timeout)

    def __repr__(self) -> str:
        return f"ExecutableFile({str(self.path)!r})"

    async def execute(self, arguments: str) -> None:
        if not os.access(self.path, os.X_OK) or not self.path.is_file():
            raise InternalError(f"{self.path} is not an executable file (chmod +x it)")
        try:
            await run_command([str(self.path)], stdin=arguments.encode(), timeout=self.timeout)
        except CommandFailed as exc:
            raise InternalError(exc.reason) from None


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def file_tree_binding(directory: str | os.PathLike[str], object_id: int, instance_id: int,
                      resource: ResourceModel, *, poll_interval: float | None = None) -> ResourceBinding:
    """The binding inventoryd would use for one resource under ``directory``.

    ``<directory>/<object>/<instance>/<resource>`` is the value file, or the program to run for an
    executable resource; an executable ``<resource>.read`` / ``<resource>.write`` beside it is used
    as the read / write hook. Hooks are looked up now, when the profile is loaded.
    """
    base = _check_path(directory, "directory") / str(object_id) / str(instance_id)
    path = base / str(resource.id)
    if resource.operations.executable:
        return ExecutableFile(path=path)
    read_hook = base / f"{resource.id}.read"
    write_hook = base / f"{resource.id}.write"
    return FileBinding(
        path=path,
        rtype=resource.type,
        writable=resource.operations.writable,
        read_hook=read_hook if _executable(read_hook) else None,
        write_hook=write_hook if _executable(write_hook) else None,
        poll_interval=poll_interval,
    )
