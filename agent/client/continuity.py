"""What a server set up in a session, carried from one run of the agent to the next.

A server that registered a device also wrote notification attributes (Write-Attributes) and set up
observations; an LwM2M server keeps both across an Update (LwM2M 1.1 §6.2.2). So when the agent
restarts -- or reloads its profile on SIGHUP -- within its registration's lifetime and resumes with
an Update, it must keep them too: the same attributes, and notifications on the same tokens, with
the same observe numbering going forward, so the server's observation simply goes on.

This module turns a :class:`~.session.ServerSession`'s attributes and observations into a JSON
document (``session.json`` in the state directory) and back. A resumed observation has no aiocoap
request behind it any more: :class:`ResumedPipe` stands in for the request's pipe and sends each
notification on the old token from the agent's socket to the server, and a RST from the server (it
forgot the token) ends the observation, as it would for a live one. Resuming needs a plain UDP
server address: over DTLS the new run has a new session, whose observations the server has dropped.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiocoap import GET, Message

from ..core.attributes import ATTRIBUTE_NAMES, NotificationAttributes
from ..core.errors import LwM2MError
from ..core.observation import Observation
from ..core.path import Path
from ..core.values import ResourceValue
from .observe import ActiveObservation

if TYPE_CHECKING:
    from .session import ServerSession
    from .transport import ServerLink

log = logging.getLogger(__name__)

# Notifications after a resume jump ahead in the Observe numbering (RFC 7641 §3.4: a server takes a
# number as newer when it is ahead by less than 2^23), so they are fresh whatever was sent since the
# last save.
OBSERVE_JUMP = 1 << 16
_OBSERVE_MODULO = 1 << 24


def session_document(session: ServerSession) -> dict[str, object]:
    """The attributes and observations of ``session`` as JSON-able data."""
    attributes = {str(path): {name: value for name, value in session.attributes.get(path).items()}
                  for path in session.attributes.paths()}
    observations = []
    for obs in session.observations:
        last = obs.logic.last_notified_value
        observations.append({
            "token": base64.b64encode(obs.token).decode(),
            "paths": [str(p) for p in obs.paths],
            "content_format": obs.content_format,
            "composite": obs.composite,
            "sequence": obs.sequence,
            "last_value": last if isinstance(last, int | float | str | bool) else None,
        })
    return {"attributes": attributes, "observations": observations}


@dataclass(frozen=True)
class SavedObservation:
    token: bytes
    paths: tuple[Path, ...]
    content_format: int
    composite: bool
    sequence: int
    last_value: object


def parse_session(data: object) -> tuple[dict[Path, NotificationAttributes], list[SavedObservation]]:
    """The attributes and observations in a ``session.json`` document; ValueError when it is not one."""
    if not isinstance(data, dict):
        raise ValueError("not a session document")
    try:
        attributes: dict[Path, NotificationAttributes] = {}
        for text, values in dict(data.get("attributes", {})).items():
            known = {k: v for k, v in dict(values).items() if k in ATTRIBUTE_NAMES}
            for name, value in known.items():
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise ValueError(f"attribute {name} of {text} is {value!r}, not a number")
            attributes[Path.parse(text)] = NotificationAttributes(**known)
        observations = []
        for raw in list(data.get("observations", [])):
            item = dict(raw)
            paths = tuple(Path.parse(str(p)) for p in item["paths"])
            if not paths:
                raise ValueError("an observation without a path")
            observations.append(SavedObservation(
                token=base64.b64decode(str(item["token"]), validate=True), paths=paths,
                content_format=int(item["content_format"]), composite=bool(item["composite"]),
                sequence=int(item["sequence"]) % _OBSERVE_MODULO, last_value=item.get("last_value")))
    except (KeyError, TypeError, AttributeError, LwM2MError) as exc:
        raise ValueError(f"malformed session document ({exc!r})") from None
    return attributes, observations


def restore_attributes(session: ServerSession, attributes: dict[Path, NotificationAttributes]) -> int:
    """Attach the saved attributes to paths that still exist; the number attached."""
    count = 0
    for path, attrs in attributes.items():
        if session.tree.exists(path):
            session.attributes.attach(path, attrs)
            count += 1
    return count


class ResumedPipe:
    """The stand-in for the aiocoap pipe of an observation taken over from an earlier run."""

    def __init__(self, manager: object, remote: object, token: bytes) -> None:
        self.manager = manager
        self.remote = remote
        self.token = token
        self.observation: ActiveObservation | None = None

    def add_response(self, response: Message, is_last: bool) -> None:
        response.token = self.token
        response.remote = self.remote
        self.manager.send_message(response, self._reset)  # type: ignore[attr-defined]
        if is_last and self.observation is not None and not self.observation.done.done():
            self.observation.done.set_result(None)

    def _reset(self) -> None:
        # The server answered a notification with RST: it no longer knows the token.
        log.info("server dropped the resumed observation of %s", self.observation.path if self.observation else "?")
        if self.observation is not None and not self.observation.done.done():
            self.observation.done.set_result(None)


async def resume_observations(session: ServerSession, link: ServerLink,
                              saved: list[SavedObservation]) -> int:
    """Observe again, on their old tokens, what the server observed before; the number resumed."""
    if not saved or link.server_uri is None or link.secure:
        return 0
    probe = Message(code=GET, uri=link.server_uri)
    interface = await link.context.find_remote_and_interface(probe)
    manager = getattr(interface, "token_interface", None)
    if manager is None:
        return 0
    loop = asyncio.get_running_loop()
    resumed = 0
    for item in saved:
        if not all(session.tree.exists(p) for p in item.paths):
            continue
        try:
            values = await session.observations._read(session, list(item.paths), item.composite)
        except LwM2MError:
            continue
        current = _observed(item, values)
        last = item.last_value if item.last_value is not None else current
        pipe = ResumedPipe(manager, probe.remote, item.token)
        obs = ActiveObservation(
            session=session, remote=probe.remote, token=item.token, paths=list(item.paths),
            content_format=item.content_format, composite=item.composite, pipe=pipe,
            logic=Observation(session.effective_attributes(item.paths[0]), loop.time(), last),
            sequence=(item.sequence + OBSERVE_JUMP) % _OBSERVE_MODULO,
        )
        pipe.observation = obs
        session.observations.adopt(obs)
        # The value may have moved while the agent was down: let the attribute logic judge it now.
        session.observations._changed(obs)
        resumed += 1
    return resumed


def _observed(item: SavedObservation, values: list[ResourceValue]) -> object:
    from .observe import _observed_value

    return _observed_value(item.paths[0], values, item.composite)


__all__ = ["ResumedPipe", "SavedObservation", "parse_session", "restore_attributes", "resume_observations",
           "session_document"]
