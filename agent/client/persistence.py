"""What the client keeps in its state directory, and when it writes it.

Three documents: ``tree.json`` (a :class:`~agent.state.TreeSnapshot`: bootstrapped accounts, values
servers wrote, instances they created), ``registration.json`` (where the agent is registered, since
when, for how long, from which local port, with which links) and ``session.json`` (the server's
attributes and observations, :mod:`.continuity`). The tree is written after every change a server
makes, the registration after every Register, Update and De-register, the session when attributes
are written or an observation starts or ends, and at most once a second while notifications go
out; all are small, and a write is atomic, so a crash at any moment leaves a usable state.

Without a state directory the same documents live in memory, so a profile reload (SIGHUP) still
hands them from the old client to the new one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path as FsPath

from ..core.path import Path
from ..state import StateDirectory, TreeSnapshot
from ..tree import ObjectTree, StoredValue
from ..tree.binding import ResourceContent

log = logging.getLogger(__name__)

TREE_FILE = "tree.json"
REGISTRATION_FILE = "registration.json"
SESSION_FILE = "session.json"
SESSION_SAVE_DELAY = 1.0  # seconds: notifications are batched into one write


@dataclass(frozen=True)
class SavedRegistration:
    server_uri: str
    endpoint: str
    location: tuple[str, ...]
    lifetime: int
    updated_at: float  # wall clock: it must mean something after a restart
    port: int = 0  # the local UDP port registered from: binding it again keeps the server's view valid
    links: str = ""  # the object links the server last received

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
        self.memory: dict[str, object] = {}  # the documents, when there is no directory
        self.bound_values: dict[Path, ResourceContent] = {}  # see TreeSnapshot.take

    def prepare(self) -> None:
        if self.directory is not None:
            self.directory.prepare()

    def _read(self, name: str) -> object | None:
        if self.directory is None:
            return self.memory.get(name)
        return self.directory.read_json(name)

    def _write(self, name: str, data: object) -> None:
        if self.directory is None:
            self.memory[name] = data
            return
        self.directory.write_json(name, data)

    def _discard(self, name: str) -> None:
        self.memory.pop(name, None)
        if self.directory is not None:
            self.directory.discard(name)

    def _reject(self, name: str, reason: str) -> None:
        self.memory.pop(name, None)
        if self.directory is not None:
            self.directory.reject(name, reason)

    # ---- the tree ----------------------------------------------------------------------------------
    def load_tree(self) -> TreeSnapshot | None:
        data = self._read(TREE_FILE)
        if data is None:
            return None
        try:
            return TreeSnapshot.from_json(data)
        except ValueError as exc:
            self._reject(TREE_FILE, str(exc))
            return None

    async def restore(self, tree: ObjectTree, snapshot: TreeSnapshot, server_uri: str) -> None:
        """Re-apply what servers set, when it was set by the server the agent now talks to: created
        instances, written stored values, and writes to resources that are not stored values (a
        timezone, an output), which go back through their bindings."""
        if snapshot.server_uri != server_uri:
            log.info("saved values belong to %s, not %s; not restored", snapshot.server_uri, server_uri)
            return
        created, written = snapshot.restore_values(tree)
        self.created.update(created)
        self.written.update(written)
        if created or written:
            log.info("restored %d created instances and %d written values from %s",
                     len(created), len(written), self.directory.path if self.directory else "state")
        for path, binding, value in snapshot.bound_writes(tree):
            try:
                await binding.write(value)
            except Exception as exc:  # a setting the hardware refuses now is reported, not fatal
                log.warning("could not restore %s = %r: %s", path, value, exc)
                continue
            self.written.add(path)
            self.bound_values[path] = value

    async def capture_bound(self, tree: ObjectTree, path: Path) -> None:
        """After a server's write under ``path``: remember the values of the non-stored resources it set."""
        captured = False
        for rpath in _resource_paths(tree, path):
            try:
                _model, binding = tree.binding(rpath)
                if not isinstance(binding, StoredValue) and binding is not None:
                    self.bound_values[rpath] = await binding.read()
                    captured = True
            except Exception as exc:  # a resource that cannot be read back is not kept
                log.debug("not keeping %s: %s", rpath, exc)
        if captured:  # tree_changed saved the tree already; write it again only with the new values
            self.save_tree(tree)

    def tree_changed(self, tree: ObjectTree, operation: str, path: Path) -> None:
        """A server changed the tree (``write``, ``create``, ``delete``, ``bootstrap``): save it."""
        if operation == "create" and len(path) == 2:
            self.created.add(path)
        elif operation == "delete":
            self.created = {p for p in self.created if not p.startswith(path)}
            self.written = {p for p in self.written if not p.startswith(path)}
            self.bound_values = {p: v for p, v in self.bound_values.items() if not p.startswith(path)}
        elif operation == "write":
            self.written.update(_resource_paths(tree, path))
        self.save_tree(tree)

    def save_tree(self, tree: ObjectTree) -> None:
        snapshot = TreeSnapshot.take(tree, server_uri=self.server_uri, bootstrapped=self.bootstrapped,
                                     created=self.created, written=self.written, bound_values=self.bound_values)
        try:
            self._write(TREE_FILE, snapshot.to_json())
        except OSError as exc:
            log.error("cannot save state to %s: %s", self.directory.path if self.directory else "", exc.strerror)

    def forget_accounts(self) -> None:
        """Discard bootstrapped accounts (``--force-bootstrap``, or the server refused them)."""
        self.bootstrapped = False
        for name in (TREE_FILE, REGISTRATION_FILE, SESSION_FILE):
            self._discard(name)

    # ---- the registration ---------------------------------------------------------------------------
    def load_registration(self) -> SavedRegistration | None:
        data = self._read(REGISTRATION_FILE)
        if data is None:
            return None
        try:
            assert isinstance(data, dict)
            location = tuple(str(s) for s in data["location"])
            port = int(data.get("port", 0))
            assert 0 <= port <= 65535
            return SavedRegistration(server_uri=str(data["server_uri"]), endpoint=str(data["endpoint"]),
                                     location=location, lifetime=int(data["lifetime"]),
                                     updated_at=float(data["updated_at"]), port=port,
                                     links=str(data.get("links", "")))
        except (AssertionError, KeyError, TypeError, ValueError) as exc:
            self._reject(REGISTRATION_FILE, f"malformed registration ({exc!r})")
            return None

    def save_registration(self, saved: SavedRegistration | None) -> None:
        try:
            if saved is None:
                self._discard(REGISTRATION_FILE)
                return
            self._write(REGISTRATION_FILE, {
                "server_uri": saved.server_uri, "endpoint": saved.endpoint, "location": list(saved.location),
                "lifetime": saved.lifetime, "updated_at": saved.updated_at, "port": saved.port,
                "links": saved.links,
            })
        except OSError as exc:
            log.error("cannot save registration to %s: %s", self.directory.path if self.directory else "",
                      exc.strerror)

    # ---- the server's session: attributes and observations ------------------------------------------
    def load_session(self) -> object | None:
        return self._read(SESSION_FILE)

    def reject_session(self, reason: str) -> None:
        self._reject(SESSION_FILE, reason)

    def save_session(self, document: dict[str, object] | None) -> None:
        try:
            if document is None:
                self._discard(SESSION_FILE)
            else:
                self._write(SESSION_FILE, document)
        except OSError as exc:
            log.error("cannot save the session to %s: %s", self.directory.path if self.directory else "",
                      exc.strerror)


def _resource_paths(tree: ObjectTree, path: Path) -> list[Path]:
    """The resource paths a write to ``path`` (instance, resource or resource instance) touched."""
    if len(path) >= 3:
        return [Path(*path[:3])]
    node = tree.objects.get(path[0])
    if node is None or len(path) < 2 or path[1] not in node.instances:
        return []
    return [Path(path[0], path[1], rid) for rid in node.instances[path[1]].resources]
