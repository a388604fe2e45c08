"""A device that talks LwM2M over DTLS PSK for the emulator's tests: an aiocoap context with its
``tinydtls`` client transport serving the agent's own object tree and site.

aiocoap keeps a DTLS connection only while something references it, and dispatches the server's
requests on that connection to this context's site: the device holds the remote of its last
Register/Update answer, as the agent's registration engine does.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from aiocoap import Code, Context, Message
from aiocoap.numbers.contentformat import ContentFormat as CoapContentFormat
from support import build_tree

from agent.client.registration import registration_links
from agent.client.session import ServerSession
from agent.client.site import LwM2MSite
from agent.core.formats import ContentFormat
from agent.tree import ObjectTree


class DtlsDevice:
    """Create with :meth:`start`; ``register`` and ``update`` over ``coaps://host:port``."""

    def __init__(self, server_uri: str, identity: str, key: bytes, tree: ObjectTree | None = None) -> None:
        self.server_uri = server_uri.rstrip("/")
        self.identity = identity
        self.key = key
        self.tree = tree or build_tree(server_uri)
        self.session = ServerSession(tree=self.tree, lwm2m_version="1.1", short_server_id=123)
        self.site = LwM2MSite(lambda remote: self.session)
        self.context: Context | None = None
        self.remote: object | None = None  # holds the DTLS connection open
        self.location: tuple[str, ...] = ()

    async def start(self) -> DtlsDevice:
        self.context = await Context.create_server_context(self.site, bind=("127.0.0.1", 0),
                                                           transports=["tinydtls"])
        self.context.client_credentials.load_from_dict(
            {f"{self.server_uri}/*": {"dtls": {"psk": self.key, "client-identity": self.identity.encode()}}})
        return self

    async def close(self) -> None:
        self.forget_connection()
        if self.context is not None:
            await self.context.shutdown()
            self.context = None

    def forget_connection(self) -> None:
        """Shut the DTLS connection down on this side, so the next request handshakes again."""
        remote, self.remote = self.remote, None
        if remote is not None:
            remote.shutdown()  # type: ignore[attr-defined]

    async def send(self, message: Message, timeout: float = 5.0) -> Message:
        assert self.context is not None
        response = await asyncio.wait_for(self.context.request(message).response, timeout)
        self.remote = response.remote
        return response

    async def register(self, endpoint: str, lifetime: int = 60, timeout: float = 5.0) -> Message:
        msg = Message(code=Code.POST, uri=f"{self.server_uri}/rd",
                      payload=registration_links(self.tree, ContentFormat.SENML_CBOR).encode())
        msg.opt.uri_query = (f"ep={quote(endpoint, safe='')}", f"lt={lifetime}", "lwm2m=1.1", "b=U")
        msg.opt.content_format = CoapContentFormat(ContentFormat.LINK_FORMAT)
        response = await self.send(msg, timeout)
        if response.code == Code.CREATED:
            self.location = tuple(response.opt.location_path)
        return response

    async def update(self, timeout: float = 5.0) -> Message:
        return await self.send(Message(code=Code.POST, uri=f"{self.server_uri}/{'/'.join(self.location)}"),
                               timeout)
