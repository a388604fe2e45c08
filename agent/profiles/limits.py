"""The ``[limits]`` table of a profile: how much one server can make the agent keep.

Every key is optional; a missing key keeps the default of :class:`~agent.client.limits.ServerLimits`
(listed in agent/profiles/README.md). A value that is not a positive number is refused with its place.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from ..client.limits import ServerLimits
from .errors import Where
from .kinds import Param, check_params

_INTEGERS = ("max_observations", "upload_max_size", "upload_max_transfers", "upload_max_bytes")


def parse_limits(raw: dict[str, Any], where: Where) -> ServerLimits:
    params = {f.name: Param("int" if f.name in _INTEGERS else "number") for f in fields(ServerLimits)}
    values = check_params(params, raw, where, "[limits]")
    for key, value in values.items():
        if not value > 0 or value == float("inf"):
            raise where.at(key).error(f"{key} = {value} is not a positive number",
                                      f"give e.g. {key} = {getattr(ServerLimits(), key)} (the default)")
    return ServerLimits(**values)
