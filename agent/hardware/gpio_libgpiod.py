"""The real GPIO backend: Linux GPIO character devices through libgpiod v2's Python bindings.

``gpiod`` (PyPI package ``gpiod`` >= 2.0) is imported only when a line is requested, so the agent
installs and runs without it on machines that have no GPIO; requesting a line then fails with a
message that says how to install it. Each request is its own ``gpiod.request_lines`` call, which
opens the chip for the request's lifetime, so there is nothing else to close.
"""

from __future__ import annotations

import datetime
import select
from typing import Any

from .gpio_chip import Bias, EdgeEvent, GpioLine


class GpiodMissing(OSError):
    """The gpiod package is not installed."""


def _gpiod() -> Any:
    try:
        import gpiod
    except ImportError:
        raise GpiodMissing("the gpiod package (libgpiod v2 bindings) is not installed: "
                           "pip install 'gpiod>=2.0'") from None
    if not hasattr(gpiod, "request_lines"):
        raise GpiodMissing("the installed gpiod is the v1 API; this agent needs gpiod >= 2.0")
    return gpiod


class _LibgpiodInput:
    def __init__(self, request: Any, line: GpioLine, gpiod: Any) -> None:
        self._request = request
        self._line = line
        self._gpiod = gpiod

    def fileno(self) -> int:
        return int(self._request.fd)

    def read_events(self) -> list[EdgeEvent]:
        # read_edge_events blocks when nothing is pending; never let a stale wake-up block the loop.
        if not select.select([self._request.fd], [], [], 0)[0]:
            return []
        rising = self._gpiod.EdgeEvent.Type.RISING_EDGE
        return [
            EdgeEvent(self._line, event.event_type == rising, event.timestamp_ns)
            for event in self._request.read_edge_events()
        ]

    def get_value(self) -> bool:
        return bool(self._request.get_value(self._line) == self._gpiod.line.Value.ACTIVE)

    def release(self) -> None:
        self._request.release()


class _LibgpiodOutput:
    def __init__(self, request: Any, line: GpioLine, gpiod: Any) -> None:
        self._request = request
        self._line = line
        self._gpiod = gpiod

    def set_value(self, value: bool) -> None:
        line_value = self._gpiod.line.Value
        self._request.set_value(self._line, line_value.ACTIVE if value else line_value.INACTIVE)

    def get_value(self) -> bool:
        return bool(self._request.get_value(self._line) == self._gpiod.line.Value.ACTIVE)

    def release(self) -> None:
        self._request.release()


class LibgpiodChip:
    """A GPIO chip such as ``gpiochip0`` (or a full path like ``/dev/gpiochip4``)."""

    def __init__(self, name: str = "gpiochip0") -> None:
        self.name = name
        self.path = name if name.startswith("/") else f"/dev/{name}"

    def __repr__(self) -> str:
        return f"LibgpiodChip({self.path!r})"

    def request_input(self, line: GpioLine, *, bias: Bias = Bias.AS_IS, debounce_ms: int = 0,
                      consumer: str = "lwm2m-agent") -> _LibgpiodInput:
        gpiod = _gpiod()
        biases = {Bias.AS_IS: gpiod.line.Bias.AS_IS, Bias.PULL_UP: gpiod.line.Bias.PULL_UP,
                  Bias.PULL_DOWN: gpiod.line.Bias.PULL_DOWN, Bias.DISABLED: gpiod.line.Bias.DISABLED}
        settings = gpiod.LineSettings(
            direction=gpiod.line.Direction.INPUT,
            edge_detection=gpiod.line.Edge.BOTH,
            bias=biases[bias],
            debounce_period=datetime.timedelta(milliseconds=debounce_ms),
        )
        request = gpiod.request_lines(self.path, consumer=consumer, config={line: settings})
        return _LibgpiodInput(request, line, gpiod)

    def request_output(self, line: GpioLine, *, initial: bool = False,
                       consumer: str = "lwm2m-agent") -> _LibgpiodOutput:
        gpiod = _gpiod()
        value = gpiod.line.Value.ACTIVE if initial else gpiod.line.Value.INACTIVE
        settings = gpiod.LineSettings(direction=gpiod.line.Direction.OUTPUT, output_value=value)
        request = gpiod.request_lines(self.path, consumer=consumer, config={line: settings})
        return _LibgpiodOutput(request, line, gpiod)

    def close(self) -> None:
        """Nothing to do: every request holds (and releases) its own handle on the chip."""
