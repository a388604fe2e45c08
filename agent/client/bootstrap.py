"""Client-initiated bootstrap (LwM2M 1.1 §5.2.7): ask a bootstrap server for our server accounts.

The agent sends ``POST /bs?ep=NAME`` from the socket it will serve on, then serves the bootstrap
server's Delete / Write / Discover requests until Bootstrap-Finish, and checks that what was written
makes a usable account: a non-bootstrap Security instance with a server URI and a Server instance
with the same Short Server ID. That is what Soracom's bootstrap over the SIM network does (a DELETE
of everything, TLV writes of ``/0/x`` and ``/1/x``, then Finish).

What bootstrap wrote is kept by the client in its state directory, so a restart registers at once
without bootstrapping again. The secret key is never logged.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

from aiocoap import Code, Message

from .account import ServerAccount, server_account
from .registration import QuickTuning
from .session import ServerSession
from .transport import ExchangeFailed, ServerLink

log = logging.getLogger(__name__)

class BootstrapFailed(Exception):
    """The bootstrap server did not answer, refused us, or left no usable server account."""


async def bootstrap(link: ServerLink, session: ServerSession, bootstrap_uri: str, endpoint: str, *,
                    timeout: float = 60.0, ack_timeout: float = 2.0) -> ServerAccount:
    """Run one client-initiated bootstrap through ``link``; returns the DM server account."""
    finished: asyncio.Future[ServerAccount] = asyncio.get_running_loop().create_future()

    async def on_finish() -> None:
        account = server_account(session.tree)  # raises NotAcceptable (4.06) if unusable
        if not finished.done():
            finished.set_result(account)

    session.bootstrapping = True
    session.on_bootstrap_finish = on_finish
    link.use_server(bootstrap_uri)
    try:
        msg = Message(code=Code.POST, uri=f"{bootstrap_uri.rstrip('/')}/bs",
                      transport_tuning=QuickTuning(ack_timeout, 4))
        msg.opt.uri_query = (f"ep={quote(endpoint, safe='')}",)
        try:
            response = await link.request(msg)
        except ExchangeFailed as exc:
            raise BootstrapFailed(f"bootstrap server {bootstrap_uri}: {exc.cause}") from None
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
