"""The interface every GPIO backend implements: request lines, read and drive them, get edge events.

Two implementations exist: ``gpio_libgpiod.LibgpiodChip`` on a real Linux GPIO character device
(libgpiod v2), and ``gpio_fake.FakeGpioChip`` in-process, for tests and simulator mode on machines
without GPIO. The bindings in ``gpio`` see only this interface.

Edge events are delivered the way the kernel delivers them: an input request has a file descriptor
that becomes readable when events are pending, and ``read_events`` drains them without blocking
once it is readable. The event loop waits on that descriptor (``loop.add_reader``), so an edge
wakes the agent at once and an idle line costs nothing; no backend is ever polled.

Values are physical levels (True = high); active-low handling is the bindings' business, so
polarity can be changed at run time (resource 5502) without re-requesting the line.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Protocol

GpioLine = int | str  # an offset on the chip, or a line name such as "GPIO17"


class Bias(enum.Enum):
    AS_IS = "as-is"
    PULL_UP = "pull-up"
    PULL_DOWN = "pull-down"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class EdgeEvent:
    line: GpioLine
    rising: bool
    timestamp_ns: int


class GpioInputRequest(Protocol):
    """A requested input line with edge detection on both edges."""

    def fileno(self) -> int:
        """Readable when edge events are pending."""
        ...

    def read_events(self) -> list[EdgeEvent]:
        """The pending events, oldest first (call when ``fileno`` is readable)."""
        ...

    def get_value(self) -> bool:
        ...

    def release(self) -> None:
        ...


class GpioOutputRequest(Protocol):
    """A requested output line."""

    def set_value(self, value: bool) -> None:
        ...

    def get_value(self) -> bool:
        ...

    def release(self) -> None:
        ...


class GpioChip(Protocol):
    """A GPIO chip that hands out line requests."""

    name: str

    def request_input(self, line: GpioLine, *, bias: Bias = Bias.AS_IS, debounce_ms: int = 0,
                      consumer: str = "lwm2m-agent") -> GpioInputRequest:
        ...

    def request_output(self, line: GpioLine, *, initial: bool = False,
                       consumer: str = "lwm2m-agent") -> GpioOutputRequest:
        ...

    def close(self) -> None:
        ...


async def wait_edge_events(request: GpioInputRequest) -> list[EdgeEvent]:
    """Wait (without polling) until the request has edge events and return them."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(request.fileno(), on_readable)
    try:
        await ready
    finally:
        loop.remove_reader(request.fileno())
    return request.read_events()
