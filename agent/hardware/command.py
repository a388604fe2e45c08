"""Resources backed by programs: read runs a command and parses its output, write/execute run one.

The most general binding a profile has: anything a shell one-liner on the device can measure or
do becomes a resource without writing Python. Commands are argv lists run without a shell (see
``process``), so a value written by the server reaches the program as one argument or as its
standard input and can never be interpreted as shell syntax.

A read that fails (the program is missing, exits non-zero, times out, prints something that is not
the resource's type) answers 5.03: the thing behind the resource is not there right now. A write
or execute that fails answers 5.00: the device tried and the actuator failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ..core.errors import BadRequest, InternalError, ServiceUnavailable
from ..core.model import ResourceType, Value
from ..core.values import value_to_text
from ..tree.binding import ResourceContent
from .errors import HardwareConfigError
from .polling import PolledBinding
from .process import CommandFailed, check_argv, check_timeout, run_command
from .readings import compile_pattern, match_value, parse_reading
from .ticker import Ticker

ValueVia = Literal["argument", "stdin"]


def check_value_via(value_via: str) -> ValueVia:
    if value_via == "argument":
        return "argument"
    if value_via == "stdin":
        return "stdin"
    raise HardwareConfigError("value_via", f"{value_via!r} is not a way to pass a value",
                              'use "argument" (appended to the command) or "stdin"')


class CommandBinding(PolledBinding):
    """A resource whose read, write and execute each run a command.

    ``read_command`` prints the value (stripped; ``pattern`` picks it out: group ``value``, else
    group 1, else the whole match). With ``multiple`` each output line (that ``pattern`` matches,
    if given) is one resource instance, numbered from 0. ``write_command`` and ``execute_command``
    get the value or the execute arguments appended as one last argument, or on stdin, as
    ``value_via`` says; an execute without arguments appends nothing.
    """

    def __init__(
        self,
        *,
        rtype: ResourceType,
        read_command: Sequence[str] | None = None,
        write_command: Sequence[str] | None = None,
        execute_command: Sequence[str] | None = None,
        pattern: str | None = None,
        value_via: str = "argument",
        multiple: bool = False,
        timeout: float = 10.0,
        poll_interval: float | None = None,
        ticker: Ticker | None = None,
    ) -> None:
        super().__init__()
        self.rtype = rtype
        self.read_command = check_argv(read_command, "read_command") if read_command is not None else None
        self.write_command = check_argv(write_command, "write_command") if write_command is not None else None
        self.execute_command = (
            check_argv(execute_command, "execute_command") if execute_command is not None else None
        )
        if self.read_command is None and self.write_command is None and self.execute_command is None:
            raise HardwareConfigError("read_command", "the command binding has no command",
                                      "give read_command, write_command or execute_command")
        if self.read_command is not None and rtype is ResourceType.NONE:
            raise HardwareConfigError("read_command", "an executable resource (type none) cannot be read",
                                      "use execute_command for it")
        self.pattern = compile_pattern(pattern) if pattern is not None else None
        self.value_via = check_value_via(value_via)
        self.multiple = multiple
        self.timeout = check_timeout(timeout)
        self.poll_changes(poll_interval, ticker)

    def __repr__(self) -> str:
        return f"CommandBinding({self.read_command or self.write_command or self.execute_command})"

    async def read(self) -> ResourceContent:
        if self.read_command is None:
            return await super().read()
        try:
            result = await run_command(self.read_command, timeout=self.timeout)
        except CommandFailed as exc:
            raise ServiceUnavailable(exc.reason) from None
        source = self.read_command[0]
        if self.rtype is ResourceType.OPAQUE and self.pattern is None and not self.multiple:
            return result.stdout
        text = result.stdout.decode(errors="replace")
        if self.multiple:
            values: dict[int, Value] = {}
            for line in text.splitlines():
                found = match_value(self.pattern, line) if self.pattern is not None else line
                if found is not None and found.strip():
                    values[len(values)] = parse_reading(found, self.rtype, source)
            return values
        if self.pattern is not None:
            found = match_value(self.pattern, text)
            if found is None:
                raise ServiceUnavailable(
                    f"output of {source} does not match {self.pattern.pattern!r}: {text.strip()[:60]!r}"
                )
            text = found
        return parse_reading(text, self.rtype, source)

    async def write(self, value: ResourceContent) -> None:
        if self.write_command is None:
            await super().write(value)
            return
        await self._run(self.write_command, self._payload(value))
        self.changed()

    async def execute(self, arguments: str) -> None:
        if self.execute_command is None:
            await super().execute(arguments)
            return
        await self._run(self.execute_command, [arguments] if arguments else [])

    def _payload(self, value: ResourceContent) -> list[str] | bytes:
        """The written value as arguments (text form) or as stdin (raw bytes for Opaque)."""
        items = [value[k] for k in sorted(value)] if isinstance(value, dict) else [value]
        if self.value_via == "stdin":
            if len(items) == 1 and isinstance(items[0], bytes):
                return items[0]
            return "".join(value_to_text(item) + "\n" for item in items).encode()
        return [value_to_text(item) for item in items]

    async def _run(self, argv: tuple[str, ...], payload: list[str] | bytes) -> None:
        if isinstance(payload, bytes):
            command, stdin = argv, payload
        elif self.value_via == "stdin":
            command, stdin = argv, "".join(p + "\n" for p in payload).encode()
        else:
            if any("\x00" in part for part in payload):
                raise BadRequest("a value passed as a command argument cannot contain NUL")
            command, stdin = (*argv, *payload), None
        try:
            await run_command(command, stdin=stdin, timeout=self.timeout)
        except CommandFailed as exc:
            raise InternalError(exc.reason) from None
