"""When to notify: the state of one observation under its notification attributes, time passed in.

An observation (one server, one token, one path) turns a stream of values into notifications
following LwM2M 1.0/1.1 §5.1.2. This module holds only the decision; the caller owns the clock, the
sockets and the reads. It feeds every value it gets (pushed by a change, or sampled) to
:meth:`Observation.on_value`, calls :meth:`Observation.on_timer` at the time
:meth:`Observation.next_wakeup` asked for, re-reads sources that do not push at
:meth:`Observation.next_sample`, and sends a notification whenever one of them returns True. Keeping
time out of here is what lets the rules be tested exhaustively with made-up timelines.

The rules:

* Two notifications are never closer than pmin. A change that should be notified earlier is not
  lost: it is notified when pmin has elapsed, with the latest value at that moment.
* At pmax after the last notification one is sent even without a change. pmax that is unset, 0 or
  smaller than pmin means no periodic notification (the specification: pmax is then ignored).
* For numbers, with gt, lt or st set, a change is notified only when, compared with the last
  *notified* value, it crosses gt or lt (either way) or has moved by st or more. Crossing gt means
  "greater than gt" became true or false, crossing lt that "less than lt" did: a value equal to a
  threshold is on its "not greater" / "not less" side. Otherwise (none of the three set, or values
  that are not numbers: strings, booleans, the (path, value) pairs of an instance) any change
  notifies. Whether a change is due is always decided between the last notified value and the
  latest one, so a change undone within pmin is not notified: the server already has the current
  state.
* epmin/epmax (1.1) bound how often the criteria are evaluated: a value arriving sooner than epmin
  after the last evaluation is held and evaluated at epmin; the caller samples at least every epmax.
  pmax notifications are not held back by epmin.
"""

from __future__ import annotations

import math
from typing import TypeGuard

from .attributes import NotificationAttributes


def is_number(value: object) -> TypeGuard[int | float]:
    """True for the values the numeric rules (gt, lt, st) apply to; booleans are not numbers here."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same_value(a: object, b: object) -> bool:
    """Equality, with two NaN readings counted as the same value (not a change every sample)."""
    if a == b:
        return True
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)


def change_is_notifiable(attributes: NotificationAttributes, notified: object, latest: object) -> bool:
    """Whether ``latest`` must reach a server that was last told ``notified`` (pmin aside)."""
    if same_value(notified, latest):
        return False
    if attributes.has_thresholds and is_number(notified) and is_number(latest):
        return _threshold_met(attributes, float(notified), float(latest))
    return True


def _threshold_met(attributes: NotificationAttributes, before: float, after: float) -> bool:
    if math.isnan(before) or math.isnan(after):
        # A reading that failed or recovered is news whatever the thresholds say.
        return True
    gt, lt, st = attributes.gt, attributes.lt, attributes.st
    return (
        (gt is not None and (before > gt) != (after > gt))
        or (lt is not None and (before < lt) != (after < lt))
        or (st is not None and abs(after - before) >= st)
    )


class Observation:
    """The notification state of one observation; all times are monotonic seconds given by the caller.

    ``initial_value`` is the value of the Observe response, which counts as the first notification.
    The values compared may be numbers (numeric rules apply), any other value (equality), or a
    tuple/list of (path, value) pairs for an instance or object observation (equality).
    """

    __slots__ = (
        "_attributes",
        "_held",
        "_last_evaluated_at",
        "_last_sampled_at",
        "_latest",
        "_notified_at",
        "_notified_value",
        "_pending",
        "_pmax",
        "_pmin",
    )

    def __init__(self, attrs: NotificationAttributes, now: float, initial_value: object) -> None:
        self._notified_value: object = initial_value
        self._notified_at = now
        self._latest: object = initial_value
        self._last_evaluated_at = now
        self._last_sampled_at = now
        # A value arrived within epmin of the last evaluation and waits for its turn.
        self._held = False
        # The latest value must be notified as soon as pmin allows.
        self._pending = False
        self._attributes = attrs
        self._pmin = float(attrs.pmin or 0)
        self._pmax = attrs.effective_pmax

    @property
    def attributes(self) -> NotificationAttributes:
        return self._attributes

    @property
    def last_notified_value(self) -> object:
        return self._notified_value

    @property
    def last_notified_at(self) -> float:
        return self._notified_at

    @property
    def latest_value(self) -> object:
        return self._latest

    @property
    def pending(self) -> bool:
        """True when a change waits to be notified (for pmin, or for its evaluation at epmin)."""
        return self._pending or self._held

    def on_value(self, value: object, now: float) -> bool:
        """The caller has a new value (pushed or sampled). True: notify it now (recorded as sent)."""
        self._last_sampled_at = now
        # A repeat of the value already evaluated brings nothing to evaluate (and so is not held
        # back by epmin); it can still release a pending change or meet pmax.
        fresh = self._held or not same_value(value, self._latest)
        self._latest = value
        if self._pmax is not None and now >= self._notified_at + self._pmax:
            return self._notify(now)
        if fresh:
            epmin = self._attributes.epmin
            if epmin and now < self._last_evaluated_at + epmin:
                self._held = True
                return False
            self._held = False
            self._last_evaluated_at = now
            self._pending = change_is_notifiable(self._attributes, self._notified_value, value)
        if self._pending and now >= self._notified_at + self._pmin:
            return self._notify(now)
        return False

    def on_timer(self, now: float, current_value: object) -> bool:
        """The wake-up asked for by :meth:`next_wakeup` is here. True: notify ``current_value`` now."""
        return self.on_value(current_value, now)

    def next_wakeup(self, now: float) -> float | None:
        """When the caller must call :meth:`on_timer` next (never before ``now``), or None.

        A result equal to ``now`` means: call it right away (after attributes changed, or when the
        caller was late). Ask again after every call that may change the state.
        """
        wakeup: float | None = None
        if self._pmax is not None:
            wakeup = self._notified_at + self._pmax
        if self._held:
            evaluation = self._last_evaluated_at + (self._attributes.epmin or 0)
            wakeup = evaluation if wakeup is None else min(wakeup, evaluation)
        elif self._pending:
            release = self._notified_at + self._pmin
            wakeup = release if wakeup is None else min(wakeup, release)
        return None if wakeup is None else max(wakeup, now)

    def next_sample(self, now: float) -> float | None:
        """When the caller must re-read a source that does not push changes (epmax), or None.

        None when epmax is not in force; the caller may still sample on its own schedule, and a
        value given sooner than epmin after the last evaluation is simply held until epmin.
        """
        epmax = self._attributes.effective_epmax
        if epmax is None:
            return None
        return max(self._last_sampled_at + epmax, now)

    def update_attributes(self, attrs: NotificationAttributes, now: float) -> None:
        """Write-Attributes changed the effective attributes during the observation.

        The last notification stays where it was; what is pending is decided again under the new
        attributes. Ask :meth:`next_wakeup` afterwards: it may be due at once.
        """
        self._attributes = attrs
        self._pmin = float(attrs.pmin or 0)
        self._pmax = attrs.effective_pmax
        if not self._held:
            self._pending = change_is_notifiable(attrs, self._notified_value, self._latest)

    def _notify(self, now: float) -> bool:
        self._notified_value = self._latest
        self._notified_at = now
        self._last_evaluated_at = now
        self._held = False
        self._pending = False
        return True
