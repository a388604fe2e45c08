"""Sending readings to Soracom Harvest: HTTP, TCP and UDP, to Harvest's host or the Unified Endpoint.

Every reading leaves as one JSON object: its values under the keys the profile chose, plus the reading id
(so a receiver can drop the duplicates at-least-once delivery makes) and the time it was taken, in UNIX
milliseconds. Over HTTP to Harvest (and to ``publish``) that time also goes in ``X-Soracom-Timestamp``,
so Harvest files the entry at the time of the measurement, not of the upload; the Unified Endpoint,
TCP and UDP take no such header, so there the body's own time field is what the reading says.

What counts as taken:

- HTTP: a 2xx answer (Harvest 201; the Unified Endpoint 200, or 207 whose ``result`` is not ``"ng"``).
  429 and 503 honour ``Retry-After``; anything else is a failure and the reading is tried again.
- TCP and UDP (Harvest ``:8514``, Unified Endpoint ``:23080``): one message, one reply. A reply that
  starts with a 2xx status is success; another reply, or none within ``timeout``, is a failure. The reply
  text of the real service is unconfirmed; this is what the emulator answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .delivery import DeliveryError
from .queue import Reading

if TYPE_CHECKING:
    import aiohttp

TIMESTAMP_HEADER = "X-Soracom-Timestamp"


@dataclass(frozen=True)
class JsonBody:
    """Turns a queued reading (a JSON object of values) into the uploaded object with id and time."""

    id_key: str = "id"
    time_key: str = "time"

    def __call__(self, reading: Reading) -> bytes:
        head = json.dumps({self.id_key: reading.reading_id, self.time_key: reading.taken_ms})
        rest = reading.payload.strip()
        if rest in (b"", b"{}"):
            return head.encode()
        if not rest.startswith(b"{"):
            raise ValueError("a JSON reading is an object")
        return head[:-1].encode() + b", " + rest[1:]


def values_payload(values: dict[str, object]) -> bytes:
    """What a JSON destination queues: the reading's values as a compact JSON object."""
    return json.dumps(values, separators=(",", ":"), allow_nan=False).encode()


@dataclass
class HttpRequest:
    method: str
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class HttpTransport:
    """One HTTP request per reading; ``build`` says which (method, URL, body, headers)."""

    def __init__(self, description: str, build: Callable[[Reading], HttpRequest], *, timeout: float = 30.0) -> None:
        self.description = description
        self._build = build
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def deliver(self, reading: Reading) -> None:
        # aiohttp is imported here, not at the top: it costs ~15 MB and 0.1 s of start-up, and an agent
        # whose profile has no HTTP destination never needs it.
        import aiohttp

        request = self._build(reading)
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        try:
            async with self._session.request(request.method, request.url, data=request.body,
                                             headers=request.headers) as response:
                text = (await response.read())[:2000].decode("utf-8", "replace")
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"{request.method} {_safe(request.url)}: {type(exc).__name__}: {exc}") from None
        check_http_answer(status, text, retry_after)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def check_http_answer(status: int, text: str, retry_after: float | None = None) -> None:
    """Raise DeliveryError unless ``status`` (and, for a 207, the body) says the reading was taken."""
    if status == 207:
        with contextlib.suppress(ValueError, AttributeError):
            if json.loads(text).get("result") == "ng":
                raise DeliveryError(f"answered 207, some destinations failed: {text.strip()}")
        return
    if 200 <= status < 300:
        return
    wait = retry_after if status in (429, 503) else None
    raise DeliveryError(f"answered {status} {text.strip()}".strip(), retry_after=wait)


def _retry_after(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def _safe(url: str) -> str:
    """A URL fit for a log line: the device secret is cut out."""
    return url.split("?", 1)[0]


def harvest_http(url: str, body: JsonBody) -> HttpTransport:
    """``POST`` to Harvest Data (``http://harvest.soracom.io/``), the reading's time in the header."""
    def build(reading: Reading) -> HttpRequest:
        return HttpRequest("POST", url, body(reading), {"Content-Type": "application/json",
                                                         TIMESTAMP_HEADER: str(reading.taken_ms)})
    return HttpTransport(f"Harvest {url}", build)


def unified_http(url: str, body: JsonBody) -> HttpTransport:
    """``POST`` to the Unified Endpoint (``http://uni.soracom.io/``), which takes no custom timestamp."""
    def build(reading: Reading) -> HttpRequest:
        return HttpRequest("POST", url, body(reading), {"Content-Type": "application/json"})
    return HttpTransport(f"Unified Endpoint {url}", build)


def publish(api_url: str, device_id: str, device_secret: str, body: JsonBody) -> HttpTransport:
    """``POST {api}/devices/{id}/publish?device_secret=`` for a SIM-less Inventory device (429: back off)."""
    url = f"{api_url.rstrip('/')}/devices/{device_id}/publish"

    def build(reading: Reading) -> HttpRequest:
        from urllib.parse import quote

        return HttpRequest("POST", f"{url}?device_secret={quote(device_secret, safe='')}", body(reading),
                           {"Content-Type": "application/json", TIMESTAMP_HEADER: str(reading.taken_ms)})
    return HttpTransport(f"publish {url}", build)


def reply_status(reply: bytes) -> int | None:
    """The status a socket entry point put first in its reply (``201`` or ``400 reason``), if any."""
    head = reply.strip().split(maxsplit=1)
    if head and head[0].isdigit() and len(head[0]) == 3:
        return int(head[0])
    return None


def check_reply(reply: bytes) -> None:
    status = reply_status(reply)
    if status is None or not 200 <= status < 300:
        raise DeliveryError(f"answered {reply.strip()[:200].decode('utf-8', 'replace')!r}")


class TcpTransport:
    """One message per reading on a kept-open TCP connection, one reply each."""

    def __init__(self, host: str, port: int, body: Callable[[Reading], bytes], *, what: str = "Harvest",
                 timeout: float = 30.0) -> None:
        self.description = f"{what} tcp://{host}:{port}"
        self.host, self.port = host, port
        self._body = body
        self._timeout = timeout
        self._stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def deliver(self, reading: Reading) -> None:
        payload = self._body(reading)
        try:
            async with asyncio.timeout(self._timeout):
                if self._stream is None:
                    self._stream = await asyncio.open_connection(self.host, self.port)
                reader, writer = self._stream
                writer.write(payload)
                await writer.drain()
                reply = await reader.read(4096)
        except (OSError, TimeoutError) as exc:
            await self._drop()
            raise DeliveryError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        if not reply:
            await self._drop()
            raise DeliveryError("the connection closed without a reply")
        check_reply(reply)

    async def _drop(self) -> None:
        if self._stream is not None:
            _, writer = self._stream
            self._stream = None
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def close(self) -> None:
        await self._drop()


class _Replies(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.queue.put_nowait(b"")  # ICMP port unreachable: nobody listens


class UdpTransport:
    """One datagram per reading; the reply must come within ``timeout`` seconds."""

    def __init__(self, host: str, port: int, body: Callable[[Reading], bytes], *, what: str = "Harvest",
                 timeout: float = 5.0) -> None:
        self.description = f"{what} udp://{host}:{port}"
        self.host, self.port = host, port
        self._body = body
        self._timeout = timeout
        self._endpoint: tuple[asyncio.DatagramTransport, _Replies] | None = None

    async def deliver(self, reading: Reading) -> None:
        payload = self._body(reading)
        if self._endpoint is None:
            transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
                _Replies, remote_addr=(self.host, self.port))
            self._endpoint = (transport, protocol)
        transport, protocol = self._endpoint
        while not protocol.queue.empty():  # a late reply to an earlier, timed-out message
            protocol.queue.get_nowait()
        transport.sendto(payload)
        try:
            async with asyncio.timeout(self._timeout):
                reply = await protocol.queue.get()
        except TimeoutError:
            raise DeliveryError(f"no reply within {self._timeout:g} s") from None
        if not reply:
            raise DeliveryError("nothing listens there (ICMP port unreachable)")
        check_reply(reply)

    async def close(self) -> None:
        if self._endpoint is not None:
            self._endpoint[0].close()
            self._endpoint = None
