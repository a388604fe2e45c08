"""Protocol errors that carry the CoAP response code they must be answered with.

Handlers anywhere in the stack raise these; the CoAP site turns them into responses, so no handler
needs to know about CoAP messages and no bad request can escape as an unhandled exception.
"""

from __future__ import annotations


class LwM2MError(Exception):
    """A request that cannot be served; ``code`` is the CoAP response code as ``(class, detail)``."""

    code: tuple[int, int] = (5, 0)

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    @property
    def code_text(self) -> str:
        return f"{self.code[0]}.{self.code[1]:02d}"


class BadRequest(LwM2MError):
    """4.00: the payload or the request does not make sense."""

    code = (4, 0)


class Unauthorized(LwM2MError):
    """4.01: the requester may not do this."""

    code = (4, 1)


class BadOption(LwM2MError):
    """4.02: a critical option the agent cannot use (RFC 7252 §5.4.1), e.g. a Uri-Path that is not UTF-8."""

    code = (4, 2)


class NotFound(LwM2MError):
    """4.04: no such object, instance, resource or resource instance."""

    code = (4, 4)


class MethodNotAllowed(LwM2MError):
    """4.05: the operation is not allowed on this target (e.g. write to a read-only resource)."""

    code = (4, 5)


class NotAcceptable(LwM2MError):
    """4.06: the agent cannot produce the content format asked for in Accept."""

    code = (4, 6)


class RequestEntityIncomplete(LwM2MError):
    """4.08: a Block1 block that does not continue a transfer in progress (RFC 7959 §2.9.2)."""

    code = (4, 8)


class RequestEntityTooLarge(LwM2MError):
    """4.13: a request body over the agent's bounds (RFC 7959 §2.9.3 for Block1 and Size1)."""

    code = (4, 13)


class UnsupportedContentFormat(LwM2MError):
    """4.15: the agent cannot parse the payload's content format."""

    code = (4, 15)


class InternalError(LwM2MError):
    """5.00: a handler failed."""

    code = (5, 0)


class ServiceUnavailable(LwM2MError):
    """5.03: the hardware behind a resource does not answer right now."""

    code = (5, 3)


class CodecError(BadRequest):
    """A payload that does not decode, or a value that cannot be encoded, in a content format."""
