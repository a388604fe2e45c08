"""An in-process GPIO chip for tests and simulator mode, on machines that have no GPIO.

It behaves like the kernel's GPIO character device as far as the agent can tell: a line can be
requested once, an input request has a real file descriptor (the read end of an ``os.pipe``) that
becomes readable when edges are pending, so the agent's ``loop.add_reader`` path is the very one
that serves real hardware. The outside world is played by :meth:`FakeGpioChip.set_input` (drive an
input to a level) and :meth:`FakeGpioChip.press` (a button click: away from the idle level and
back); what the agent drives on outputs is seen with :meth:`FakeGpioChip.output_value`.

Debounce is accepted and ignored: a fake line does not bounce.
"""

from __future__ import annotations

import errno
import os
import time

from .gpio_chip import Bias, EdgeEvent, GpioLine


class _FakeInputRequest:
    def __init__(self, chip: FakeGpioChip, line: GpioLine) -> None:
        self._chip = chip
        self._line = line
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._events: list[EdgeEvent] = []
        self.released = False

    def fileno(self) -> int:
        return self._read_fd

    def push(self, event: EdgeEvent) -> None:
        self._events.append(event)
        try:
            os.write(self._write_fd, b"\x01")
        except BlockingIOError:
            pass  # the pipe is already full of wake-ups; the event list holds the events

    def read_events(self) -> list[EdgeEvent]:
        while True:
            try:
                if not os.read(self._read_fd, 4096):
                    break
            except BlockingIOError:
                break
        events, self._events = self._events, []
        return events

    def get_value(self) -> bool:
        return self._chip.level(self._line)

    def release(self) -> None:
        if not self.released:
            self.released = True
            os.close(self._read_fd)
            os.close(self._write_fd)
            self._chip._release(self._line, self)


class _FakeOutputRequest:
    def __init__(self, chip: FakeGpioChip, line: GpioLine, initial: bool) -> None:
        self._chip = chip
        self._line = line
        self.released = False
        chip._levels[line] = initial

    def set_value(self, value: bool) -> None:
        if self.released:
            raise OSError(errno.EBADF, "request released")
        self._chip._levels[self._line] = bool(value)

    def get_value(self) -> bool:
        return self._chip.level(self._line)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._chip._release(self._line, self)


class FakeGpioChip:
    """A GPIO chip simulated in memory, with ``num_lines`` lines numbered from 0."""

    def __init__(self, name: str = "fake-gpiochip0", *, num_lines: int = 64) -> None:
        self.name = name
        self.num_lines = num_lines
        self._levels: dict[GpioLine, bool] = {}
        self._requests: dict[GpioLine, _FakeInputRequest | _FakeOutputRequest] = {}

    def _check(self, line: GpioLine) -> None:
        if not isinstance(line, int) or not 0 <= line < self.num_lines:
            raise OSError(errno.EINVAL, f"{self.name} has no line {line!r}")
        if line in self._requests:
            raise OSError(errno.EBUSY, f"line {line} of {self.name} is already requested")

    def request_input(self, line: GpioLine, *, bias: Bias = Bias.AS_IS, debounce_ms: int = 0,
                      consumer: str = "lwm2m-agent") -> _FakeInputRequest:
        self._check(line)
        if line not in self._levels:
            # A floating line settles where its pull resistor takes it.
            self._levels[line] = bias is Bias.PULL_UP
        request = _FakeInputRequest(self, line)
        self._requests[line] = request
        return request

    def request_output(self, line: GpioLine, *, initial: bool = False,
                       consumer: str = "lwm2m-agent") -> _FakeOutputRequest:
        self._check(line)
        request = _FakeOutputRequest(self, line, initial)
        self._requests[line] = request
        return request

    def _release(self, line: GpioLine, request: object) -> None:
        if self._requests.get(line) is request:
            del self._requests[line]

    def close(self) -> None:
        for request in list(self._requests.values()):
            request.release()

    # ---- the outside world ---------------------------------------------------------------------
    def level(self, line: GpioLine) -> bool:
        return self._levels.get(line, False)

    def set_input(self, line: GpioLine, value: bool) -> None:
        """Drive ``line`` to ``value`` from outside; an input request on it gets the edge event."""
        if isinstance(self._requests.get(line), _FakeOutputRequest):
            raise OSError(errno.EBUSY, f"line {line} of {self.name} is an output")
        value = bool(value)
        if self.level(line) == value:
            return
        self._levels[line] = value
        request = self._requests.get(line)
        if isinstance(request, _FakeInputRequest):
            request.push(EdgeEvent(line, value, time.monotonic_ns()))

    def press(self, line: GpioLine) -> None:
        """A button click: the line leaves its idle level and comes back (two edges)."""
        idle = self.level(line)
        self.set_input(line, not idle)
        self.set_input(line, idle)

    def output_value(self, line: GpioLine) -> bool:
        """The level an output request drives on ``line``."""
        if not isinstance(self._requests.get(line), _FakeOutputRequest):
            raise KeyError(f"line {line} of {self.name} is not requested as an output")
        return self.level(line)
