"""The agent's observation registry: which server watches which path, and when to notify it.

aiocoap offers ``ObservableResource``, but it neither rate-limits notifications nor knows LwM2M
attributes, and it keeps rendering after a peer went away until the pipe notices. Here each
observation is a :class:`~agent.core.observation.Observation` (the pure pmin/pmax/gt/lt/st logic)
fed by the bindings' change listeners and by one timer, and its pipe is closed the moment the server
cancels (RST, GET with Observe=1, or a new request on the same token).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiocoap import Code, Message
from aiocoap.numbers.constants import Reliable, Unreliable
from aiocoap.numbers.contentformat import ContentFormat as CoapContentFormat

from ..core.codecs import encoder_for
from ..core.errors import LwM2MError, MethodNotAllowed, NotFound
from ..core.observation import Observation
from ..core.path import Path
from ..core.values import ResourceValue
from .responses import error_response

if TYPE_CHECKING:
    from aiocoap.pipe import Pipe

    from .session import ServerSession

log = logging.getLogger(__name__)

_OBSERVE_MODULO = 1 << 24
_RELIABLE = Reliable()
_UNRELIABLE = Unreliable()


def _observed_value(path: Path, values: list[ResourceValue], composite: bool) -> object:
    """What the attribute logic compares: the number of a single resource, else the whole set."""
    if not composite and len(path) >= 3 and len(values) == 1 and len(values[0].path) == len(path):
        return values[0].value
    return tuple(values)


@dataclass(eq=False)
class ActiveObservation:
    """One observation of one server on one path (or a set of paths, for Observe-Composite)."""

    session: ServerSession
    remote: object
    token: bytes
    paths: list[Path]
    content_format: int
    composite: bool
    pipe: Pipe
    logic: Observation
    sequence: int = 0
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    timer: asyncio.TimerHandle | None = None
    evaluating: bool = False
    dirty: bool = False
    unsubscribers: list[object] = field(default_factory=list)
    last_confirmable: float = 0.0
    parked: bool = False  # its pipe is gone; it notifies into notification storing only

    @property
    def path(self) -> Path:
        return self.paths[0]


class ObservationRegistry:
    """All observations of one server session."""

    confirmable_every = 16
    confirmable_interval = 30.0

    def __init__(self, max_observations: int = 1000, keepalive: float = 600.0) -> None:
        self._by_token: dict[tuple[object, bytes], ActiveObservation] = {}
        self.notifications_sent = 0
        # Notification storing: asked before each notification goes out; True means it took the message
        # (stored it while the server cannot be reached, or dropped it as the Server object says). ``park``
        # is asked when the transport ends an observation; True keeps it notifying into ``hold``.
        self.hold: Callable[[ActiveObservation, Message], bool] | None = None
        self.park: Callable[[ActiveObservation], bool] | None = None
        # Each observation holds a pipe, a timer and listeners (~12 KB): a server gets this many.
        self.max_observations = max_observations
        # A confirmable notification at least this often, even of a value that never changes: a
        # peer that stopped acknowledging is found out (RFC 7641 §4.5) and its observations end.
        self.keepalive = keepalive
        self.refused_over_cap = 0
        # Called when an observation starts, ends or notifies (the client keeps them across restarts).
        self.on_change: Callable[[], None] | None = None

    def admits(self, remote: object, token: bytes) -> bool:
        """Whether a new Observe on ``token`` may start; over the cap it is served as a plain read.

        RFC 7641 §4.1 lets a server that cannot keep an observation answer without the Observe option.
        """
        if len(self._by_token) < self.max_observations or (remote, token) in self._by_token:
            return True
        if self.refused_over_cap == 0:
            log.warning("%d observations already: further Observe requests are answered as plain reads",
                        self.max_observations)
        self.refused_over_cap += 1
        return False

    def _changed_set(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def adopt(self, obs: ActiveObservation) -> None:
        """Take over an observation from an earlier run of the agent (see ``continuity``)."""
        key = (obs.remote, obs.token)
        self._by_token[key] = obs
        self._subscribe(obs)
        self._schedule(obs)

        def ended(_done: object) -> None:
            if self._by_token.get(key) is obs:
                del self._by_token[key]
            self._teardown(obs)
            self._changed_set()

        obs.done.add_done_callback(ended)

    def __len__(self) -> int:
        return len(self._by_token)

    def __iter__(self) -> Iterator[ActiveObservation]:
        return iter(list(self._by_token.values()))

    async def observe(self, pipe: Pipe, session: ServerSession) -> None:
        """Serve an Observe=0 request: answer with the current value, then notify until cancelled."""
        request: Message = pipe.request
        loop = asyncio.get_running_loop()
        composite = request.code == Code.FETCH
        if composite:
            from .site import LwM2MSite

            paths = LwM2MSite._decode_paths(request)
            content_format = session.composite_format(request.opt.accept)
        else:
            paths = [Path.from_segments(request.opt.uri_path)]
            if not paths[0]:
                raise MethodNotAllowed("observe of the root is not defined")
            content_format = session.response_format(request.opt.accept, paths[0])
        values = await self._read(session, paths, composite)
        payload = encoder_for(content_format).encode(paths[0] if not composite else Path(),
                                                     values, session.tree.models)
        attrs = session.effective_attributes(paths[0])
        obs = ActiveObservation(
            session=session, remote=request.remote, token=request.token, paths=paths,
            content_format=content_format, composite=composite, pipe=pipe,
            logic=Observation(attrs, loop.time(), _observed_value(paths[0], values, composite)),
            last_confirmable=loop.time(),
        )
        key = (request.remote, request.token)
        old = self._by_token.pop(key, None)
        if old is not None:
            self._close(old)
        self._by_token[key] = obs
        self._subscribe(obs)
        first = Message(code=Code.CONTENT, payload=payload)
        first.opt.content_format = CoapContentFormat(content_format)
        first.opt.observe = 0
        pipe.add_response(first, is_last=False)
        for parked in [o for o in self._by_token.values() if o.parked and o.paths == paths]:
            self._close(parked)  # observed again after an outage: the new observation takes over
        self._by_token = {k: o for k, o in self._by_token.items() if not o.done.done()}
        self._schedule(obs)
        self._changed_set()
        try:
            await asyncio.shield(obs.done)  # a cancelled pipe leaves obs.done pending: it may be parked
        finally:
            # Reached on cancel by the server (the pipe's task is cancelled) and on our own close. aiocoap
            # also ends the observations of a server a Register/Update could not reach: notification
            # storing may then keep the observation going, its notifications held for later (parked).
            if not obs.done.done() and self.park is not None and self.park(obs):
                obs.parked = True
            else:
                if self._by_token.get(key) is obs:
                    del self._by_token[key]
                self._teardown(obs)
                self._changed_set()

    def find(self, token: bytes, paths: list[Path]) -> ActiveObservation | None:
        """Where a stored notification can still go: the live observation on ``token``, else one of the same
        paths (the server observed again after the outage ended the old one), if any."""
        live = [obs for obs in self._by_token.values() if not obs.done.done() and not obs.parked]
        return next((obs for obs in live if obs.token == token), None) or next(
            (obs for obs in live if obs.paths == paths), None)

    def close_parked(self, only: ActiveObservation | None = None) -> int:
        """End the parked observations (their server did not observe again), or just ``only``; returns how
        many."""
        parked = [key for key, obs in self._by_token.items() if obs.parked and (only is None or obs is only)]
        for key in parked:
            self._close(self._by_token.pop(key))
        return len(parked)

    def next_sequence(self, obs: ActiveObservation) -> int:
        """Take the next Observe number of ``obs`` (for a notification sent outside ``_send``)."""
        obs.sequence = (obs.sequence + 1) % _OBSERVE_MODULO
        return obs.sequence

    def cancel(self, remote: object, token: bytes, path: Path) -> None:
        """Cancel by GET Observe=1: the observation on that token, and any of that peer on that path."""
        for key, obs in list(self._by_token.items()):
            if key == (remote, token) or (obs.remote == remote and obs.paths == [path]):
                del self._by_token[key]
                self._close(obs)

    def cancel_all(self) -> None:
        for obs in list(self._by_token.values()):
            self._close(obs)
        self._by_token.clear()

    def attributes_changed(self, path: Path) -> None:
        """Write-Attributes changed something at ``path``: re-derive the attributes of what it covers."""
        loop = asyncio.get_running_loop()
        for obs in self._by_token.values():
            if obs.path.startswith(path) or path.startswith(obs.path):
                obs.logic.update_attributes(obs.session.effective_attributes(obs.path), loop.time())
                self._schedule(obs)

    def refresh_defaults(self) -> None:
        """The Server object's default pmin/pmax changed: every observation re-derives its attributes."""
        loop = asyncio.get_running_loop()
        for obs in self._by_token.values():
            obs.logic.update_attributes(obs.session.effective_attributes(obs.path), loop.time())
            self._schedule(obs)

    # ---- internals ------------------------------------------------------------------------------
    @staticmethod
    async def _read(session: ServerSession, paths: list[Path], composite: bool) -> list[ResourceValue]:
        if not composite:
            return await session.tree.read(paths[0])
        return await session.tree.read_composite(paths)

    def _subscribe(self, obs: ActiveObservation) -> None:
        tree = obs.session.tree
        for p in obs.paths:
            try:
                rpaths = list(tree.resource_paths(p[:3] if len(p) > 3 else p))  # type: ignore[arg-type]
            except NotFound:
                continue
            for rpath in rpaths:
                _model, binding = tree.binding(rpath)
                obs.unsubscribers.append(binding.add_listener(functools.partial(self._changed, obs)))

    def _changed(self, obs: ActiveObservation) -> None:
        if obs.done.done():
            return
        obs.dirty = True
        if not obs.evaluating:
            obs.evaluating = True
            asyncio.get_running_loop().create_task(self._evaluate(obs))

    async def _evaluate(self, obs: ActiveObservation) -> None:
        """Re-read after a change and let the attribute logic decide whether to notify now."""
        loop = asyncio.get_running_loop()
        try:
            while obs.dirty and not obs.done.done():
                obs.dirty = False
                values = await self._read(obs.session, obs.paths, obs.composite)
                value = _observed_value(obs.path, values, obs.composite)
                if obs.logic.on_value(value, loop.time()):
                    self._send(obs, values)
                self._schedule(obs)
        except LwM2MError as exc:
            self._fail(obs, exc)
        except Exception:
            log.exception("observation of %s failed", obs.path)
            self._fail(obs, LwM2MError("internal error while reading the observed value"))
        finally:
            obs.evaluating = False

    def _schedule(self, obs: ActiveObservation) -> None:
        if obs.timer is not None:
            obs.timer.cancel()
            obs.timer = None
        if obs.done.done():
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        wake = obs.logic.next_wakeup(now)
        sample = obs.logic.next_sample(now)
        if sample is not None and (wake is None or sample < wake):
            wake = sample
        keepalive = obs.last_confirmable + self.keepalive
        if wake is None or keepalive < wake:
            wake = keepalive
        if wake is not None:
            obs.timer = loop.call_at(max(wake, now), self._on_timer, obs)

    def _on_timer(self, obs: ActiveObservation) -> None:
        obs.timer = None
        if obs.done.done():
            return
        asyncio.get_running_loop().create_task(self._timer_evaluate(obs))

    async def _timer_evaluate(self, obs: ActiveObservation) -> None:
        loop = asyncio.get_running_loop()
        try:
            values = await self._read(obs.session, obs.paths, obs.composite)
        except LwM2MError as exc:
            self._fail(obs, exc)
            return
        value = _observed_value(obs.path, values, obs.composite)
        now = loop.time()
        sample = obs.logic.next_sample(now)
        if obs.logic.on_timer(now, value) or (sample is not None and sample <= now and obs.logic.on_value(value, now)):
            self._send(obs, values)
        elif now >= obs.last_confirmable + self.keepalive:
            self._send(obs, values, confirmable=True)
        self._schedule(obs)

    def _send(self, obs: ActiveObservation, values: list[ResourceValue], confirmable: bool = False) -> None:
        base = Path() if obs.composite else obs.path
        payload = encoder_for(obs.content_format).encode(base, values, obs.session.tree.models)
        obs.sequence = (obs.sequence + 1) % _OBSERVE_MODULO
        # Mostly NON, so a fast source is not held to one notification per round trip (aiocoap sends
        # one CON at a time per peer); a CON now and then tells us whether the server still listens
        # (it answers RST when it forgot the token), as RFC 7641 §4.5 asks.
        now = asyncio.get_running_loop().time()
        confirmable = (confirmable or obs.sequence % self.confirmable_every == 1
                       or now - obs.last_confirmable >= self.confirmable_interval)
        if confirmable:
            obs.last_confirmable = now
        msg = Message(code=Code.CONTENT, payload=payload, transport_tuning=_RELIABLE if confirmable else _UNRELIABLE)
        msg.opt.content_format = CoapContentFormat(obs.content_format)
        msg.opt.observe = obs.sequence
        if self.hold is not None and self.hold(obs, msg):
            return
        obs.pipe.add_response(msg, is_last=False)
        self.notifications_sent += 1
        self._changed_set()

    def _fail(self, obs: ActiveObservation, exc: LwM2MError) -> None:
        """The observed value became unreadable: a final error notification ends the observation."""
        key = (obs.remote, obs.token)
        if self._by_token.get(key) is obs:
            del self._by_token[key]
        if not obs.done.done() and not obs.parked:  # a parked observation has no pipe left to answer on
            obs.pipe.add_response(error_response(exc), is_last=True)
        self._close(obs)

    def _close(self, obs: ActiveObservation) -> None:
        if not obs.done.done():
            obs.done.set_result(None)
        self._teardown(obs)

    @staticmethod
    def _teardown(obs: ActiveObservation) -> None:
        if obs.timer is not None:
            obs.timer.cancel()
            obs.timer = None
        for unsubscribe in obs.unsubscribers:
            unsubscribe()  # type: ignore[operator]
        obs.unsubscribers.clear()
        if not obs.done.done():
            obs.done.set_result(None)
