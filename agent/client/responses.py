"""LwM2M outcomes as CoAP messages: a value in a content format, or an error with its code.

The site answers requests with them and the observation registry sends notifications with them, so
both speak one mapping from :class:`~agent.core.errors.LwM2MError` to a CoAP code.
"""

from __future__ import annotations

from aiocoap import Code, Message
from aiocoap.numbers.contentformat import ContentFormat as CoapContentFormat

from ..core.errors import LwM2MError


def error_response(exc: LwM2MError) -> Message:
    klass, detail = exc.code
    return Message(code=Code((klass << 5) | detail), payload=exc.message.encode()[:512])


def content_response(payload: bytes, content_format: int) -> Message:
    msg = Message(code=Code.CONTENT, payload=payload)
    msg.opt.content_format = CoapContentFormat(content_format)
    return msg
