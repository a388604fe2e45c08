"""Client-initiated bootstrap (LwM2M 1.1 §5.2.7): ask a bootstrap server for our server accounts.

The agent sends ``POST /bs?ep=NAME`` from the socket it will serve on, then serves the bootstrap
server's Delete / Write / Discover requests until Bootstrap-Finish, and checks that what was written
makes a usable account: a non-bootstrap Security instance with a server URI and a Server instance
with the same Short Server ID. That is what Soracom's bootstrap over the SIM network does (a DELETE
of everything, TLV writes of ``/0/x`` and ``/1/x``, then Finish).

What bootstrap wrote is saved (owner-only permissions) so a restart registers at once without
bootstrapping again; ``force`` discards it. The secret key is never logged.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path as FsPath
from urllib.parse import quote

from aiocoap import Code, Context, Message
from aiocoap.error import Error as CoapError

from ..core.errors import NotAcceptable
from ..core.model import ObjectLink
from ..tree import ObjectInstance, ObjectTree, StoredValue
from ..tree.binding import ResourceBinding
from .registration import QuickTuning
from .session import ServerSession

log = logging.getLogger(__name__)

STATE_FILE = "bootstrap.json"


@dataclass(frozen=True)
class ServerAccount:
    """The DM server account bootstrap produced: where to register and with which credentials."""

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


class BootstrapFailed(Exception):
    """The bootstrap server did not answer, refused us, or left no usable server account."""


def server_account(tree: ObjectTree) -> ServerAccount:
    """The first DM server account in the tree (Security + Server with the same Short Server ID)."""
    security = tree.objects.get(0)
    servers = tree.objects.get(1)
    if security is None or servers is None:
        raise NotAcceptable("bootstrap left no Security or Server object")
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
    raise NotAcceptable("bootstrap wrote no Security instance with a URI and a matching Server instance")


async def bootstrap(context: Context, session: ServerSession, bootstrap_uri: str, endpoint: str, *,
                    timeout: float = 60.0, ack_timeout: float = 2.0) -> ServerAccount:
    """Run one client-initiated bootstrap over ``context``; returns the DM server account."""
    finished: asyncio.Future[ServerAccount] = asyncio.get_running_loop().create_future()

    async def on_finish() -> None:
        account = server_account(session.tree)  # raises NotAcceptable (4.06) if unusable
        if not finished.done():
            finished.set_result(account)

    session.bootstrapping = True
    session.on_bootstrap_finish = on_finish
    try:
        msg = Message(code=Code.POST, uri=f"{bootstrap_uri.rstrip('/')}/bs",
                      transport_tuning=QuickTuning(ack_timeout, 4))
        msg.opt.uri_query = (f"ep={quote(endpoint, safe='')}",)
        try:
            response = await context.request(msg).response
        except CoapError as exc:
            raise BootstrapFailed(f"bootstrap server {bootstrap_uri} did not answer: {exc}") from None
        if response.code != Code.CHANGED:
            raise BootstrapFailed(f"bootstrap request refused: {response.code} {response.payload[:80]!r}")
        log.info("bootstrap request accepted by %s; waiting for Bootstrap-Finish", bootstrap_uri)
        try:
            account = await asyncio.wait_for(finished, timeout)
        except TimeoutError:
            raise BootstrapFailed(f"no Bootstrap-Finish from {bootstrap_uri} within {timeout:.0f} s") from None
        log.info("bootstrapped: server %s, short server id %d, identity %r", account.server_uri,
                 account.short_server_id, account.identity.decode(errors="replace"))
        return account
    finally:
        session.bootstrapping = False
        session.on_bootstrap_finish = None


# ---- persistence --------------------------------------------------------------------------------

def _encode(value: object) -> object:
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    if isinstance(value, ObjectLink):
        return {"objlnk": str(value)}
    if isinstance(value, dict):
        return {"multi": {str(k): _encode(v) for k, v in value.items()}}
    return value


def _decode(value: object) -> object:
    if isinstance(value, dict):
        if "b64" in value:
            return base64.b64decode(value["b64"])
        if "objlnk" in value:
            return ObjectLink.parse(value["objlnk"])
        if "multi" in value:
            return {int(k): _decode(v) for k, v in value["multi"].items()}
    return value


def save_accounts(tree: ObjectTree, state_dir: FsPath) -> FsPath:
    """Write the Security and Server instances to ``state_dir/bootstrap.json`` (mode 0600)."""
    data: dict[str, dict[str, dict[str, object]]] = {}
    for oid in (0, 1):
        node = tree.objects.get(oid)
        if node is None:
            continue
        data[str(oid)] = {
            str(iid): {str(rid): _encode(b.value) for rid, b in inst.resources.items() if isinstance(b, StoredValue)}
            for iid, inst in node.instances.items()
        }
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state_dir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_accounts(tree: ObjectTree, state_dir: FsPath) -> bool:
    """Restore saved Security and Server instances; False when there is nothing (usable) saved."""
    path = state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text())
        restored: dict[int, dict[int, ObjectInstance]] = {}
        for oid_text, instances in data.items():
            oid = int(oid_text)
            restored[oid] = {}
            for iid_text, resources in instances.items():
                res: dict[int, ResourceBinding] = {
                    int(rid): StoredValue(_decode(v), writable=True)  # type: ignore[arg-type]
                    for rid, v in resources.items()
                }
                restored[oid][int(iid_text)] = ObjectInstance(int(iid_text), res)
    except FileNotFoundError:
        return False
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        log.warning("ignoring unreadable bootstrap state %s (%s); bootstrapping again", path, exc)
        return False
    for oid, instances in restored.items():
        node = tree.objects.get(oid)
        if node is None:
            continue
        node.instances = instances
    try:
        server_account(tree)
    except NotAcceptable:
        return False
    return True


def forget_accounts(state_dir: FsPath) -> None:
    (state_dir / STATE_FILE).unlink(missing_ok=True)
