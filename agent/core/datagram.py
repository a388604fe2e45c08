"""The fixed CoAP header of a raw UDP datagram (RFC 7252 §3), read without decoding the rest.

The agent looks at a datagram before aiocoap does in two cases: to tell a request from a response
when deciding whether its source may talk to us at all, and to answer a request that aiocoap cannot
decode (an option that is not UTF-8) with an error of its own. Both need only the first bytes:
version, type, token length, code, message ID and token. Nothing here allocates per datagram
beyond the token, so the check costs the same for a flood as for one datagram.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

CON, NON, ACK, RST = 0, 1, 2, 3
_PAYLOAD_MARKER = b"\xff"


@dataclass(frozen=True, slots=True)
class Header:
    mtype: int
    code: int
    mid: int
    token: bytes

    @property
    def is_request(self) -> bool:
        """Class 0 with a method code (0.01-0.31); 0.00 is an empty message (ping, ACK, RST)."""
        return self.code >> 5 == 0 and self.code != 0

    @property
    def is_empty(self) -> bool:
        return self.code == 0

    @property
    def is_format_error(self) -> bool:
        """A header RFC 7252 §3 calls a message format error: a reserved code class (1, 6, 7), a
        request in an ACK or RST, an empty message with a token."""
        if self.code >> 5 in (1, 6, 7):
            return True
        if self.is_request and self.mtype in (ACK, RST):
            return True
        return self.is_empty and bool(self.token)


def peek(data: bytes) -> Header | None:
    """The header of ``data``, or None when it is not a CoAP version 1 message with a whole token."""
    if len(data) < 4 or data[0] >> 6 != 1:
        return None
    token_length = data[0] & 0x0F
    if token_length > 8 or len(data) < 4 + token_length:
        return None
    return Header(mtype=(data[0] >> 4) & 0x03, code=data[1], mid=int.from_bytes(data[2:4], "big"),
                  token=bytes(data[4:4 + token_length]))


def reset_reply(message: Header) -> bytes | None:
    """The RST that rejects a CON (RFC 7252 §4.2); None for other types, which are ignored silently."""
    if message.mtype != CON:
        return None
    return bytes([0x40 | (RST << 4), 0]) + message.mid.to_bytes(2, "big")


def error_reply(request: Header, code: tuple[int, int], diagnostic: str = "") -> bytes | None:
    """An error response to ``request``: piggy-backed on an ACK for a CON, a NON for a NON.

    None for anything that is not a request (responses and empty messages get no answer).
    """
    if not request.is_request or request.mtype not in (CON, NON):
        return None
    klass, detail = code
    mtype = ACK if request.mtype == CON else NON
    mid = request.mid if request.mtype == CON else secrets.randbelow(1 << 16)
    out = bytes([0x40 | (mtype << 4) | len(request.token), (klass << 5) | detail]) + mid.to_bytes(2, "big")
    out += request.token
    if diagnostic:
        out += _PAYLOAD_MARKER + diagnostic.encode()[:128]
    return out
