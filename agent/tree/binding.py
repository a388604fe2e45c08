"""Resource bindings: where one resource's value comes from and where writes and executes go.

A binding is the small handler table of one resource, in the spirit of Anjay's object handlers:
``read``, ``write`` and ``execute``, each optional. Bindings that learn of changes by themselves (a
GPIO edge, a serial line, a timer) call :meth:`ResourceBinding.changed`, which wakes the observations
on that resource at once instead of waiting for a poll.

A multiple-instance resource reads and writes ``dict[int, Value]`` (resource-instance id -> value).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from ..core.errors import MethodNotAllowed
from ..core.model import Value

ResourceContent = Value | dict[int, Value]
Listener = Callable[[], None]


class ResourceBinding:
    """Base class: a resource that cannot be read, written or executed until a subclass says so."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    async def read(self) -> ResourceContent:
        raise MethodNotAllowed("resource is not readable")

    async def write(self, value: ResourceContent) -> None:
        raise MethodNotAllowed("resource is not writable")

    async def execute(self, arguments: str) -> None:
        raise MethodNotAllowed("resource is not executable")

    async def start(self) -> None:
        """Open whatever the binding needs (a serial port, a GPIO request); called once at start."""

    async def close(self) -> None:
        """Release what :meth:`start` opened."""

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` whenever the value changes; returns the function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            try:
                self._listeners.remove(listener)
            except ValueError:
                pass

        return remove

    def changed(self) -> None:
        """Tell observers that the value changed (they re-read it and apply their attributes)."""
        for listener in list(self._listeners):
            listener()


class StoredValue(ResourceBinding):
    """A value held in memory: constants, Security/Server settings, values the server writes."""

    __slots__ = ("_on_write", "value", "writable")

    def __init__(
        self,
        value: ResourceContent,
        *,
        writable: bool = True,
        on_write: Callable[[ResourceContent], None] | None = None,
    ) -> None:
        super().__init__()
        self.value = value
        self.writable = writable
        self._on_write = on_write

    async def read(self) -> ResourceContent:
        return self.value

    async def write(self, value: ResourceContent) -> None:
        if not self.writable:
            raise MethodNotAllowed("resource is not writable")
        self.set(value)
        if self._on_write is not None:
            self._on_write(value)

    def set(self, value: ResourceContent) -> None:
        """Change the value from the device side (notifies observers if it differs)."""
        if value != self.value:
            self.value = value
            self.changed()


class ExecuteAction(ResourceBinding):
    """An executable resource that calls a function with the execute arguments."""

    __slots__ = ("_action",)

    def __init__(self, action: Callable[[str], object]) -> None:
        super().__init__()
        self._action = action

    async def execute(self, arguments: str) -> None:
        result = self._action(arguments)
        if inspect.isawaitable(result):
            await result
