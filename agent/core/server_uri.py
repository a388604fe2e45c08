"""What a server URI must look like, for a profile's ``uri``/``bootstrap`` and ``run --server`` alike.

A URI the agent cannot register to (``garbage``, ``http://...``, no host, port 0) is refused when it
is given, with a message saying how to write it, rather than failing later in a retry loop.
"""

from __future__ import annotations

from urllib.parse import urlsplit

EXAMPLE = 'give e.g. "coap://127.0.0.1:5683" or "coaps://jp.inventory.soracom.io:5684"'


class BadServerUri(ValueError):
    """``message`` says what is wrong, ``fix`` how to write it instead."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(f"{message}; {fix}")
        self.message = message
        self.fix = fix


def check_server_uri(uri: str) -> None:
    """Raise BadServerUri unless ``uri`` is a coap:// or coaps:// URI with a host and a usable port."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise BadServerUri(f"{uri!r} is not a URI ({exc})", 'give e.g. "coap://127.0.0.1:5683"') from None
    if parts.scheme not in ("coap", "coaps") or not parts.hostname:
        raise BadServerUri(f"{uri!r} is not a coap:// or coaps:// URI with a host", EXAMPLE)
    if port == 0:
        raise BadServerUri(f"{uri!r} has port 0", "give the server's port, e.g. :5683")
