"""LwM2M paths: ``/object/instance/resource/resource-instance``.

A path names a node of the object tree at one of five levels (root, object, instance, resource,
resource instance). It is a tuple of ints so that it hashes, sorts and slices cheaply: the
observation registry and the codecs use it as a key on hot paths.
"""

from __future__ import annotations

from .errors import BadRequest

MAX_ID = 65535


class Path(tuple[int, ...]):
    """An LwM2M path; ``Path()`` is the root, ``Path(3, 0, 1)`` is ``/3/0/1``."""

    __slots__ = ()

    def __new__(cls, *ids: int) -> Path:
        if len(ids) > 4:
            raise BadRequest(f"a path has at most 4 levels, got {len(ids)}")
        for i in ids:
            if not 0 <= i <= MAX_ID:
                raise BadRequest(f"path id {i} out of range 0..{MAX_ID}")
        return tuple.__new__(cls, ids)

    @classmethod
    def parse(cls, text: str) -> Path:
        """Parse ``"/3/0/1"`` (a leading slash and an empty root are allowed)."""
        stripped = text.strip("/")
        if not stripped:
            return cls()
        try:
            return cls(*(int(part) for part in stripped.split("/")))
        except ValueError:
            raise BadRequest(f"not an LwM2M path: {text!r}") from None

    @classmethod
    def from_segments(cls, segments: tuple[str, ...] | list[str]) -> Path:
        """Build a path from CoAP Uri-Path options (an empty option list is the root)."""
        parts = [s for s in segments if s != ""]
        try:
            return cls(*(int(p) for p in parts))
        except ValueError:
            raise BadRequest(f"not an LwM2M path: /{'/'.join(segments)}") from None

    @property
    def level(self) -> int:
        return len(self)

    @property
    def object_id(self) -> int | None:
        return self[0] if len(self) > 0 else None

    @property
    def instance_id(self) -> int | None:
        return self[1] if len(self) > 1 else None

    @property
    def resource_id(self) -> int | None:
        return self[2] if len(self) > 2 else None

    @property
    def resource_instance_id(self) -> int | None:
        return self[3] if len(self) > 3 else None

    @property
    def is_root(self) -> bool:
        return len(self) == 0

    @property
    def is_object(self) -> bool:
        return len(self) == 1

    @property
    def is_instance(self) -> bool:
        return len(self) == 2

    @property
    def is_resource(self) -> bool:
        return len(self) == 3

    @property
    def is_resource_instance(self) -> bool:
        return len(self) == 4

    def child(self, i: int) -> Path:
        return Path(*self, i)

    def parent(self) -> Path:
        return Path(*self[:-1])

    def startswith(self, prefix: Path) -> bool:
        """True when ``prefix`` is this path or one of its ancestors."""
        return self[: len(prefix)] == prefix

    def __str__(self) -> str:
        return "/" + "/".join(str(i) for i in self)

    def __repr__(self) -> str:
        return f"Path({str(self)!r})"
