"""The one error a hardware backend raises when it is configured wrongly.

Bindings are built from device profiles (TOML). A bad argument must be refused when the agent starts,
with a message the profile loader can place on the offending TOML line: which field, what is wrong,
and how to fix it. Errors that happen later, while serving a request, are LwM2M errors instead
(``ServiceUnavailable`` when the hardware is absent right now, ``InternalError`` when an actuator
fails).
"""

from __future__ import annotations


class HardwareConfigError(ValueError):
    """A binding argument that cannot work: ``field`` names the argument, ``fix`` tells what to do."""

    def __init__(self, field: str, reason: str, fix: str) -> None:
        super().__init__(f"{field}: {reason} ({fix})")
        self.field = field
        self.reason = reason
        self.fix = fix
