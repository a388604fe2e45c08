"""The bounds on what one server can make the agent keep: observations and unfinished uploads.

Each is a profile setting (``[limits]``, see agent/profiles/README.md); the defaults keep a server
that misbehaves within a few tens of MB on a Raspberry Pi.
"""

from __future__ import annotations

from dataclasses import dataclass

from .uploads import UploadLimits


@dataclass(frozen=True)
class ServerLimits:
    max_observations: int = 1000
    observe_keepalive: float = 600.0
    upload_max_size: int = 1 << 20
    upload_max_transfers: int = 4
    upload_max_bytes: int = 2 << 20
    upload_timeout: float = 60.0

    def uploads(self) -> UploadLimits:
        return UploadLimits(max_size=self.upload_max_size, max_transfers=self.upload_max_transfers,
                            max_total_bytes=self.upload_max_bytes, timeout=self.upload_timeout)
