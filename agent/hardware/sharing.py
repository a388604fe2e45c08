"""A hardware source several bindings share: who uses it, and who listens to it.

One GPIO line, one serial port or one NMEA stream serves every resource bound to it. The source is
opened when its first user starts and released when its last user closes, and each change it sees
goes to every listener; listeners come and go while the source runs, so they are kept by key and
called from a snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

L = TypeVar("L")


class Users:
    """How many bindings use the source: the first ``acquire`` opens it, the last ``release`` closes it."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def acquire(self) -> bool:
        """Count one more user; True when it is the first (the source is to be opened)."""
        self.count += 1
        return self.count == 1

    def release(self) -> bool:
        """Count one user fewer; True when it was the last (the source is to be released)."""
        if self.count == 0:
            return False
        self.count -= 1
        return self.count == 0

    def __bool__(self) -> bool:
        return self.count > 0


class Listeners(Generic[L]):
    """The listeners of a source; iterating gives a snapshot, so a listener may unsubscribe itself."""

    __slots__ = ("_by_key", "_next_key")

    def __init__(self) -> None:
        self._by_key: dict[int, L] = {}
        self._next_key = 0

    def add(self, listener: L) -> Callable[[], None]:
        """Keep ``listener``; returns the function that removes it (harmless to call twice)."""
        key = self._next_key
        self._next_key += 1
        self._by_key[key] = listener

        def remove() -> None:
            self._by_key.pop(key, None)

        return remove

    def __iter__(self) -> Iterator[L]:
        return iter(list(self._by_key.values()))

    def __bool__(self) -> bool:
        return bool(self._by_key)
