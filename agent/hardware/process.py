"""Running an external program for a resource: argv only, a timeout, and a kill that sticks.

Command bindings, file hooks, and the reboot action all run programs the profile names. They share
the rules here: the program is started with ``create_subprocess_exec`` (an argv list, never a
shell, so a value the server writes cannot inject a command), in its own session so that a timeout
kills the whole process group and not only a wrapping shell script, and with a bounded wait. Every
failure becomes ``CommandFailed`` with a reason fit for a 5.03 / 5.00 diagnostic payload.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import HardwareConfigError

_STDERR_TAIL = 200


class CommandFailed(Exception):
    """A program could not be run, timed out, or exited with a non-zero status."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int
    stdout: bytes
    stderr: bytes


def check_argv(argv: object, field: str) -> tuple[str, ...]:
    """Validate a command from a profile: a non-empty list of strings (no shell string)."""
    if isinstance(argv, str) or not isinstance(argv, Sequence) or not argv:
        raise HardwareConfigError(
            field, f"{argv!r} is not a command as a list of arguments",
            f'write it as a list, e.g. {field} = ["/usr/bin/vcgencmd", "measure_temp"] (no shell is used)',
        )
    if not all(isinstance(part, str) for part in argv):
        raise HardwareConfigError(field, f"{argv!r} has arguments that are not strings",
                                  "quote every argument of the command")
    return tuple(argv)


def check_timeout(timeout: float, field: str = "timeout") -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise HardwareConfigError(field, f"{timeout!r} is not a positive number of seconds",
                                  f"give e.g. {field} = 10.0")
    return float(timeout)


def _kill_group(process: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


async def run_command(argv: Sequence[str], *, stdin: bytes | None = None, timeout: float,
                      check: bool = True) -> CommandResult:
    """Run ``argv`` with ``stdin`` as its input; raise ``CommandFailed`` on any failure.

    With ``check`` a non-zero exit status is a failure whose reason carries the end of stderr.
    """
    name = os.path.basename(argv[0])
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise CommandFailed(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    try:
        async with asyncio.timeout(timeout):
            stdout, stderr = await process.communicate(stdin)
    except TimeoutError:
        _kill_group(process)
        await process.wait()
        raise CommandFailed(f"{name} did not finish within {timeout:g} s and was killed") from None
    except BaseException:
        # Cancelled (the agent is stopping or the request was dropped): leave no process behind.
        _kill_group(process)
        await asyncio.shield(process.wait())
        raise
    returncode = process.returncode if process.returncode is not None else -1
    if check and returncode != 0:
        detail = stderr.decode(errors="replace").strip()[-_STDERR_TAIL:]
        status = (
            f"was killed by signal {-returncode}" if returncode < 0 else f"exited with status {returncode}"
        )
        raise CommandFailed(f"{name} {status}" + (f": {detail}" if detail else ""))
    return CommandResult(returncode, stdout, stderr)
