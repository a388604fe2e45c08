"""What the client keeps in its state directory, and when it writes it.

Two documents: ``tree.json`` (a :class:`~agent.state.TreeSnapshot`: bootstrapped accounts, values
servers wrote, instances they created) and ``registration.json`` (where the agent is registered,
since when, for how long). The tree is written after every change a server makes, the registration
after every Register, Update and De-register; both are small, and a write is atomic, so a crash at
any moment leaves a usable state.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path as FsPath

from ..core.path import Path
from ..state import StateDirectory, TreeSnapshot
from ..tree import ObjectTree

log = logging.getLogger(__name__)

TREE_FILE = "tree.json"
REGISTRATION_FILE = "registration.json"


@dataclass(frozen=True)
class SavedRegistration:
    server_uri: str
    endpoint: str
    location: tuple[str, ...]
    lifetime: int
    updated_at: float  # wall clock: it must mean something after a restart

    def still_valid(self, server_uri: str, endpoint: str, now: float | None = None) -> bool:
        """True while the server should still hold this registration (a margin for the Update's trip)."""
        now = time.time() if now is None else now
        return (self.server_uri == server_uri and self.endpoint == endpoint
                and self.updated_at <= now < self.updated_at + self.lifetime - 2)


class ClientState:
    """The client's view of its state directory (nothing is written when there is none)."""

    def __init__(self, path: FsPath | None) -> None:
        self.directory = StateDirectory(path) if path is not None else None
        self.created: set[Path] = set()
        self.written: set[Path] = set()
        self.bootstrapped = False
        self.server_uri = ""

    def prepare(self) -> None:
        if self.directory is not None:
            self.directory.prepare()

    # ---- the tree ----------------------------------------------------------------------------------
    def load_tree(self) -> TreeSnapshot | None:
        if self.directory is None:
            return None
        data = self.directory.read_json(TREE_FILE)
        if data is None:
            return None
        try:
            return TreeSnapshot.from_json(data)
        except ValueError as exc:
            self.directory.reject(TREE_FILE, str(exc))
            return None

    def restore(self, tree: ObjectTree, snapshot: TreeSnapshot, server_uri: str) -> None:
        """Re-apply what servers set, when it was set by the server the agent now talks to."""
        if snapshot.server_uri != server_uri:
            log.info("saved values belong to %s, not %s; not restored", snapshot.server_uri, server_uri)
            return
        created, written = snapshot.restore_values(tree)
        self.created.update(created)
        self.written.update(written)
        if created or written:
            log.info("restored %d created instances and %d written values from %s",
                     len(created), len(written), self.directory.path if self.directory else "state")

    def tree_changed(self, tree: ObjectTree, operation: str, path: Path) -> None:
        """A server changed the tree (``write``, ``create``, ``delete``, ``bootstrap``): save it."""
        if operation == "create" and len(path) == 2:
            self.created.add(path)
        elif operation == "delete":
            self.created = {p for p in self.created if not p.startswith(path)}
            self.written = {p for p in self.written if not p.startswith(path)}
        elif operation == "write":
            self.written.update(_resource_paths(tree, path))
        self.save_tree(tree)

    def save_tree(self, tree: ObjectTree) -> None:
        if self.directory is None:
            return
        snapshot = TreeSnapshot.take(tree, server_uri=self.server_uri, bootstrapped=self.bootstrapped,
                                     created=self.created, written=self.written)
        try:
            self.directory.write_json(TREE_FILE, snapshot.to_json())
        except OSError as exc:
            log.error("cannot save state to %s: %s", self.directory.path, exc.strerror)

    def forget_accounts(self) -> None:
        """Discard bootstrapped accounts (``--force-bootstrap``, or the server refused them)."""
        self.bootstrapped = False
        if self.directory is not None:
            self.directory.discard(TREE_FILE)
            self.directory.discard(REGISTRATION_FILE)

    # ---- the registration ---------------------------------------------------------------------------
    def load_registration(self) -> SavedRegistration | None:
        if self.directory is None:
            return None
        data = self.directory.read_json(REGISTRATION_FILE)
        if data is None:
            return None
        try:
            assert isinstance(data, dict)
            location = tuple(str(s) for s in data["location"])
            return SavedRegistration(server_uri=str(data["server_uri"]), endpoint=str(data["endpoint"]),
                                     location=location, lifetime=int(data["lifetime"]),
                                     updated_at=float(data["updated_at"]))
        except (AssertionError, KeyError, TypeError, ValueError) as exc:
            self.directory.reject(REGISTRATION_FILE, f"malformed registration ({exc!r})")
            return None

    def save_registration(self, saved: SavedRegistration | None) -> None:
        if self.directory is None:
            return
        try:
            if saved is None:
                self.directory.discard(REGISTRATION_FILE)
                return
            self.directory.write_json(REGISTRATION_FILE, {
                "server_uri": saved.server_uri, "endpoint": saved.endpoint, "location": list(saved.location),
                "lifetime": saved.lifetime, "updated_at": saved.updated_at,
            })
        except OSError as exc:
            log.error("cannot save registration to %s: %s", self.directory.path, exc.strerror)


def _resource_paths(tree: ObjectTree, path: Path) -> list[Path]:
    """The resource paths a write to ``path`` (instance, resource or resource instance) touched."""
    if len(path) >= 3:
        return [Path(*path[:3])]
    node = tree.objects.get(path[0])
    if node is None or len(path) < 2 or path[1] not in node.instances:
        return []
    return [Path(path[0], path[1], rid) for rid in node.instances[path[1]].resources]
