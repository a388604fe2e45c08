"""Whose requests the agent serves over plain UDP: the policy behind :class:`~.guard.SourceGuard`.

Without DTLS a server is known only by its address. The agent serves the address of the server it
registers with -- the server URI's resolved addresses, and the address its Register answer came
from -- and, while a bootstrap is in progress (until Bootstrap-Finish), only the bootstrap
server's. A request from anywhere else is refused before aiocoap keeps anything for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .guard import Source, resolve_sources, source_of

if TYPE_CHECKING:
    from .registration import RegistrationEngine
    from .session import ServerSession


class ManagementSources:
    """The addresses allowed to manage the agent now, as a predicate over a datagram's source."""

    def __init__(self, session: ServerSession) -> None:
        self.session = session
        self.engine: RegistrationEngine | None = None
        self.server: set[Source] = set()
        self.bootstrap: set[Source] = set()
        self._registered_remote: object | None = None
        self._registered_source: Source | None = None

    async def allow_server(self, uri: str) -> None:
        """Serve the DM server at ``uri`` (and wherever its Register answer comes from)."""
        self.server = await resolve_sources(uri)

    async def allow_bootstrap(self, uri: str) -> None:
        """Serve the bootstrap server at ``uri`` while the session is bootstrapping."""
        self.bootstrap = await resolve_sources(uri)

    def accepts(self, source: Source) -> bool:
        if self.session.bootstrapping:
            return source in self.bootstrap
        return source in self.server or source == self._engine_source()

    def accepts_remote(self, remote: object) -> bool:
        source = source_of(remote)
        return source is not None and self.accepts(source)

    def _engine_source(self) -> Source | None:
        remote = self.engine.server_remote if self.engine is not None else None
        if remote is not self._registered_remote:
            self._registered_remote = remote
            self._registered_source = source_of(remote) if remote is not None else None
        return self._registered_source
