"""What ``lwm2m-agent status`` shows of a running agent, and its wire form (one JSON object).

The running agent answers with an :class:`AgentStatus` on its status socket
(``status_socket``); the command decodes it and prints one line per field. A field the reader
does not know (a newer agent) is kept in ``extra`` and printed as it came, so adding one -- the
telemetry queue's depth is the next -- is one attribute here, one line in :func:`agent_status`
and one in :func:`render`; older readers still show it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..client.agent import LwM2MClient

FORMAT = 1


class StatusFormatError(ValueError):
    """The status answer is not what an agent sends (wrong field type, not JSON, another format)."""


@dataclass
class AgentStatus:
    pid: int
    started_at: float
    endpoint: str
    state: str
    server: str
    lwm2m_version: str
    bootstrap: str | None = None
    # When the server last accepted a Register or Update (wall clock); None: not yet.
    last_update_at: float | None = None
    observations: list[str] = field(default_factory=list)
    # Telemetry queue depth; None while the agent has no queue.
    queue: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return json.dumps({"format": FORMAT, **self.extra, **fields}, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> AgentStatus:
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise StatusFormatError(f"not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise StatusFormatError(f"expected a JSON object, got {type(raw).__name__}")
        if raw.get("format") != FORMAT:
            raise StatusFormatError(f"status format {raw.get('format')!r}, this reader knows {FORMAT} "
                                    "(agent and command from different versions?)")
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "extra":
                continue
            if f.name not in raw:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise StatusFormatError(f"missing field {f.name!r}")
                continue
            values[f.name] = _checked(f.name, raw[f.name])
        known = {f.name for f in dataclasses.fields(cls)} | {"format"}
        return cls(**values, extra={k: v for k, v in raw.items() if k not in known})


_TYPES: dict[str, tuple[type, ...]] = {
    "pid": (int,), "started_at": (int, float), "endpoint": (str,), "state": (str,), "server": (str,),
    "lwm2m_version": (str,), "bootstrap": (str, type(None)), "last_update_at": (int, float, type(None)),
    "observations": (list,), "queue": (int, type(None)),
}


def _checked(name: str, value: Any) -> Any:
    types = _TYPES[name]
    if isinstance(value, bool) or not isinstance(value, types):
        raise StatusFormatError(f"field {name!r}: {value!r} is not {' or '.join(t.__name__ for t in types)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise StatusFormatError(f"field {name!r}: {value!r} is not a finite number")
    if isinstance(value, list) and not all(isinstance(p, str) for p in value):
        raise StatusFormatError(f"field 'observations': {value!r} is not a list of paths")
    return value


def agent_status(client: LwM2MClient, started_at: float, queue: int | None = None) -> AgentStatus:
    """The status of a running client, now."""
    reg = client.settings.registration
    engine = client.engine
    state = engine.state.value if engine is not None else "starting"
    if state == "unregistered" and client.settings.bootstrap_uri and (engine is None or not engine.registrations):
        state = "bootstrapping"
    return AgentStatus(
        pid=os.getpid(),
        started_at=started_at,
        endpoint=reg.endpoint,
        state=state,
        server=reg.server_uri,
        lwm2m_version=engine.lwm2m_version if engine is not None else reg.lwm2m_version,
        bootstrap=client.settings.bootstrap_uri,
        last_update_at=engine.last_update_at if engine is not None else None,
        observations=sorted({str(path) for obs in client.session.observations for path in obs.paths}),
        queue=queue,
    )


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _when(at: float, now: float) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
    return f"{stamp} ({_age(now - at)} ago)"


def render(status: AgentStatus, now: float | None = None) -> list[str]:
    """The lines ``lwm2m-agent status`` prints."""
    now = time.time() if now is None else now
    lines = [
        f"agent: pid {status.pid}, running for {_age(now - status.started_at)}",
        f"endpoint: {status.endpoint}",
        f"registration: {status.state} (LwM2M {status.lwm2m_version})",
        f"server: {status.server}",
    ]
    if status.bootstrap:
        lines.append(f"bootstrap: {status.bootstrap}")
    lines.append("last update: " + (_when(status.last_update_at, now) if status.last_update_at is not None
                                    else "none yet"))
    lines.append(f"observations: {len(status.observations)}"
                 + (f" ({', '.join(status.observations)})" if status.observations else ""))
    lines.append(f"queue: {'none' if status.queue is None else status.queue}")
    lines.extend(f"{key}: {value}" for key, value in sorted(status.extra.items()))
    return lines
