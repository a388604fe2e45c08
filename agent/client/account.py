"""A server account: where the agent registers and with which credentials, as the tree holds it.

LwM2M keeps accounts in the tree itself -- a Security instance (URI, security mode, PSK identity and
key) and a Server instance with the same Short Server ID (lifetime, binding). Whether a profile, the
command line or a bootstrap server wrote them, the client reads them back from there, so there is
one source of truth for what it connects to.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import NotAcceptable
from ..tree import ObjectTree


@dataclass(frozen=True)
class ServerAccount:
    """A DM server account: where to register and with which credentials."""

    server_uri: str
    short_server_id: int
    security_mode: int
    identity: bytes
    secret_key: bytes
    lifetime: int
    binding: str

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return (f"ServerAccount(server_uri={self.server_uri!r}, short_server_id={self.short_server_id}, "
                f"security_mode={self.security_mode}, identity={self.identity!r}, lifetime={self.lifetime})")


def server_account(tree: ObjectTree) -> ServerAccount:
    """The first DM server account in the tree (Security + Server with the same Short Server ID)."""
    security = tree.objects.get(0)
    servers = tree.objects.get(1)
    if security is None or servers is None:
        raise NotAcceptable("the tree has no Security or Server object")
    for iid in sorted(security.instances):
        sec = security.instances[iid]
        if sec.stored(1) is True:
            continue
        uri, ssid = sec.stored(0), sec.stored(10)
        if not isinstance(uri, str) or not uri or not isinstance(ssid, int):
            continue
        for server in servers.instances.values():
            if server.stored(0) == ssid:
                lifetime = server.stored(1)
                binding = server.stored(7)
                mode = sec.stored(2)
                identity = sec.stored(3)
                key = sec.stored(5)
                return ServerAccount(
                    server_uri=uri, short_server_id=ssid,
                    security_mode=mode if isinstance(mode, int) else 3,
                    identity=identity if isinstance(identity, bytes) else b"",
                    secret_key=key if isinstance(key, bytes) else b"",
                    lifetime=lifetime if isinstance(lifetime, int) else 86400,
                    binding=binding if isinstance(binding, str) else "U",
                )
    raise NotAcceptable("no Security instance with a URI and a matching Server instance")
