"""When an observation notifies: pmin, pmax, gt/lt/st and epmin/epmax, on made-up timelines.

The property tests play a perfect caller (it wakes exactly when asked, samples when asked) over
generated timelines of value changes and check what a server would see: the spacing of
notifications, that each one has a reason, and that the last value reaches the server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.core.attributes import NotificationAttributes
from agent.core.observation import Observation

EPS = 1e-9


# --- the specification's notification criterion, stated independently of the module -------------


def numeric(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def server_must_hear(attrs: NotificationAttributes, notified: object, latest: object) -> bool:
    """Whether a server told ``notified`` must be told ``latest`` (LwM2M §5.1.2, pmin aside)."""
    if notified == latest:
        return False
    thresholds = (attrs.gt, attrs.lt, attrs.st)
    if all(t is None for t in thresholds) or not (numeric(notified) and numeric(latest)):
        return True
    a, b = float(notified), float(latest)  # type: ignore[arg-type]
    # Crossing: "greater than gt" or "less than lt" changed from true to false or back.
    if attrs.gt is not None and (a > attrs.gt) != (b > attrs.gt):
        return True
    if attrs.lt is not None and (a < attrs.lt) != (b < attrs.lt):
        return True
    return attrs.st is not None and abs(b - a) >= attrs.st


# --- a perfect caller ----------------------------------------------------------------------------


@dataclass
class Run:
    attrs: NotificationAttributes
    observation: Observation
    current: object
    now: float = 0.0
    notifications: list[tuple[float, object, str]] = field(default_factory=list)
    steps: int = 0

    @classmethod
    def start(cls, attrs: NotificationAttributes, initial: object) -> Run:
        run = cls(attrs, Observation(attrs, 0.0, initial), initial)
        run.notifications.append((0.0, initial, "observe response"))
        return run

    def record(self, sent: bool, how: str) -> None:
        if not sent:
            return
        assert self.observation.last_notified_value == self.current, "notified a stale value"
        assert self.observation.last_notified_at == self.now
        self.notifications.append((self.now, self.current, how))

    def advance_to(self, until: float) -> None:
        """Serve every wake-up and sample the observation asks for up to ``until``."""
        while True:
            wakeup = self.observation.next_wakeup(self.now)
            sample = self.observation.next_sample(self.now)
            for asked in (wakeup, sample):
                assert asked is None or asked >= self.now, "asked to be woken in the past"
            due = min((t for t in (wakeup, sample) if t is not None), default=None)
            if due is None or due > until:
                break
            self.steps += 1
            assert self.steps < 3_000, "the observation keeps asking to be woken without progress"
            self.now = due
            if due == wakeup:
                self.record(self.observation.on_timer(self.now, self.current), "timer")
            else:
                self.record(self.observation.on_value(self.current, self.now), "sample")
        self.now = max(self.now, until)

    def change(self, value: object) -> bool:
        self.current = value
        sent = self.observation.on_value(value, self.now)
        self.record(sent, "change")
        return sent


# --- generated timelines ---------------------------------------------------------------------------

small_periods = st.none() | st.integers(0, 20)
thresholds = st.none() | st.integers(-10, 10).map(float)
# Mostly small integers, so that values land exactly on thresholds and exactly st apart.
numbers = st.integers(-12, 12) | st.floats(-40, 40, allow_nan=False).map(lambda x: round(x, 2))
gaps = st.integers(0, 12).map(float) | st.floats(0, 12, allow_nan=False)

attribute_sets = st.builds(
    NotificationAttributes,
    pmin=small_periods,
    pmax=st.none() | st.integers(0, 40),
    gt=thresholds,
    lt=thresholds,
    st=st.none() | st.integers(0, 15).map(float),
    epmin=st.none() | st.integers(0, 8),
    epmax=st.none() | st.integers(0, 30),
)


def play(attrs: NotificationAttributes, initial: object, events: list[tuple[float, object]]) -> Run:
    run = Run.start(attrs, initial)
    for gap, value in events:
        run.advance_to(run.now + gap)
        run.change(value)
    # Long enough for anything held by epmin and then by pmin to come out.
    run.advance_to(run.now + (attrs.pmin or 0) + (attrs.epmin or 0) + 1)
    return run


def check_invariants(run: Run) -> None:
    attrs = run.attrs
    pmin = attrs.pmin or 0
    pmax = attrs.effective_pmax
    times = [t for t, _, _ in run.notifications]
    for (before, old, _), (at, new, how) in zip(run.notifications, run.notifications[1:], strict=False):
        assert at - before >= pmin - EPS, f"notifications {before} and {at} closer than pmin={pmin}"
        if pmax is not None:
            assert at - before <= pmax + EPS, f"notifications {before} and {at} further than pmax={pmax}"
        periodic = pmax is not None and at - before >= pmax - EPS
        if not periodic:
            assert server_must_hear(attrs, old, new), f"notification at {at} ({how}) without a reason"
            if attrs.epmin:
                assert at - before >= attrs.epmin - EPS, "criteria evaluated sooner than epmin"
    if pmax is not None:
        assert run.now - times[-1] <= pmax + EPS, "silent for longer than pmax at the end"
    last_notified = run.notifications[-1][1]
    assert not server_must_hear(attrs, last_notified, run.current), (
        f"the server was last told {last_notified!r} but the value is {run.current!r}"
    )


@settings(max_examples=200, deadline=None)
@given(attribute_sets, numbers, st.lists(st.tuples(gaps, numbers), max_size=25))
def test_numeric_timelines_keep_every_rule(
    attrs: NotificationAttributes, initial: float, events: list[tuple[float, object]]
) -> None:
    check_invariants(play(attrs, initial, events))


texts = st.sampled_from(["off", "on", "fault", ""])


@settings(max_examples=100, deadline=None)
@given(attribute_sets, texts, st.lists(st.tuples(gaps, texts), max_size=25))
def test_non_numeric_timelines_notify_every_lasting_change(
    attrs: NotificationAttributes, initial: str, events: list[tuple[float, object]]
) -> None:
    run = play(attrs, initial, events)
    check_invariants(run)
    assert run.notifications[-1][1] == run.current


def instance_value(values: tuple[int, int]) -> tuple[tuple[str, int], ...]:
    return (("/3303/0/5700", values[0]), ("/3303/0/5701", values[1]))


instance_values = st.tuples(st.integers(0, 2), st.integers(0, 2)).map(instance_value)


@settings(max_examples=100, deadline=None)
@given(attribute_sets, instance_values, st.lists(st.tuples(gaps, instance_values), max_size=25))
def test_instance_timelines_compare_whole_sets(
    attrs: NotificationAttributes, initial: object, events: list[tuple[float, object]]
) -> None:
    # gt/lt/st have no meaning above resource level: a set of values notifies on any change.
    run = play(attrs, initial, events)
    check_invariants(run)
    assert run.notifications[-1][1] == run.current


threshold_attrs = st.builds(
    NotificationAttributes,
    gt=thresholds,
    lt=thresholds,
    st=st.none() | st.integers(0, 6).map(float),
)


@settings(max_examples=200, deadline=None)
@given(threshold_attrs, numbers, st.lists(numbers, max_size=30))
def test_without_pmin_a_change_notifies_exactly_when_the_criteria_say(
    attrs: NotificationAttributes, initial: float, values: list[float]
) -> None:
    observation = Observation(attrs, 0.0, initial)
    notified: object = initial
    for step, value in enumerate(values, start=1):
        expected = server_must_hear(attrs, notified, value)
        assert observation.on_value(value, float(step)) is expected, (notified, value)
        if expected:
            notified = value
        assert observation.next_wakeup(float(step)) is None


# --- known examples ----------------------------------------------------------------------------


def test_change_within_pmin_is_sent_when_pmin_elapses_with_the_latest_value() -> None:
    observation = Observation(NotificationAttributes(pmin=10), 0.0, 20)
    assert observation.next_wakeup(0.0) is None
    assert observation.on_value(21, 3.0) is False
    assert observation.next_wakeup(3.0) == 10.0
    assert observation.on_value(22, 6.0) is False
    assert observation.on_timer(10.0, 22) is True
    assert observation.last_notified_value == 22
    assert observation.next_wakeup(10.0) is None


def test_change_after_pmin_is_sent_at_once() -> None:
    observation = Observation(NotificationAttributes(pmin=10), 0.0, 20)
    assert observation.on_value(21, 10.0) is True
    assert observation.on_value(22, 15.0) is False
    assert observation.next_wakeup(15.0) == 20.0


def test_change_undone_within_pmin_is_not_sent() -> None:
    observation = Observation(NotificationAttributes(pmin=10), 0.0, "off")
    assert observation.on_value("on", 2.0) is False
    assert observation.pending
    assert observation.on_value("off", 4.0) is False
    assert not observation.pending
    assert observation.next_wakeup(4.0) is None


def test_pmax_notifies_without_change() -> None:
    observation = Observation(NotificationAttributes(pmin=5, pmax=30), 0.0, 20)
    assert observation.next_wakeup(0.0) == 30.0
    assert observation.on_timer(30.0, 20) is True
    assert observation.next_wakeup(30.0) == 60.0
    assert observation.on_value(21, 40.0) is True
    assert observation.next_wakeup(40.0) == 70.0


@pytest.mark.parametrize(
    "attrs",
    [
        NotificationAttributes(pmin=20, pmax=10),  # pmax < pmin: ignored
        NotificationAttributes(pmax=0),
        NotificationAttributes(),
    ],
)
def test_no_periodic_notification(attrs: NotificationAttributes) -> None:
    observation = Observation(attrs, 0.0, 20)
    assert observation.next_wakeup(0.0) is None
    assert observation.on_timer(1000.0, 20) is False


def test_pmax_equal_to_pmin_is_periodic() -> None:
    observation = Observation(NotificationAttributes(pmin=60, pmax=60), 0.0, 1)
    assert observation.next_wakeup(0.0) == 60.0


def test_late_caller_is_told_to_act_now() -> None:
    observation = Observation(NotificationAttributes(pmax=30), 0.0, 1)
    assert observation.next_wakeup(45.0) == 45.0
    assert observation.on_value(1, 45.0) is True  # pmax is due whatever the way the value came


def test_gt_crossing_notifies_both_ways() -> None:
    observation = Observation(NotificationAttributes(gt=25.0), 0.0, 20.0)
    assert observation.on_value(24.0, 1.0) is False
    assert observation.on_value(26.0, 2.0) is True
    assert observation.on_value(30.0, 3.0) is False
    assert observation.on_value(25.0, 4.0) is True  # back to the threshold is back below it
    assert observation.on_value(25.5, 5.0) is True


def test_lt_crossing_notifies_both_ways() -> None:
    observation = Observation(NotificationAttributes(lt=-80.0), 0.0, -70)
    assert observation.on_value(-79, 1.0) is False
    assert observation.on_value(-85, 2.0) is True
    assert observation.on_value(-90, 3.0) is False
    assert observation.on_value(-75, 4.0) is True
    assert observation.on_value(-85, 5.0) is True
    assert observation.on_value(-80, 6.0) is True  # at the threshold is no longer less than it


def test_step_is_measured_from_the_last_notified_value() -> None:
    observation = Observation(NotificationAttributes(st=5.0), 0.0, 20)
    assert observation.on_value(23, 1.0) is False
    assert observation.on_value(24.9, 2.0) is False
    assert observation.on_value(25, 3.0) is True
    assert observation.on_value(21, 4.0) is False
    assert observation.on_value(19.5, 5.0) is True


def test_crossing_within_pmin_is_sent_at_pmin() -> None:
    observation = Observation(NotificationAttributes(pmin=10, gt=25.0), 0.0, 20)
    assert observation.on_value(30, 1.0) is False
    assert observation.next_wakeup(1.0) == 10.0
    assert observation.on_timer(10.0, 31) is True
    assert observation.last_notified_value == 31


def test_thresholds_do_not_apply_to_text_or_booleans() -> None:
    text = Observation(NotificationAttributes(gt=5.0, st=100.0), 0.0, "a")
    assert text.on_value("b", 1.0) is True
    flag = Observation(NotificationAttributes(st=2.0), 0.0, False)
    assert flag.on_value(True, 1.0) is True


def test_nan_readings_are_not_a_change_each_time_but_a_change_from_a_number() -> None:
    observation = Observation(NotificationAttributes(st=10.0), 0.0, 20.0)
    assert observation.on_value(math.nan, 1.0) is True
    assert observation.on_value(math.nan, 2.0) is False
    assert observation.on_value(21.0, 3.0) is True


def test_epmin_holds_a_change_until_the_next_evaluation() -> None:
    observation = Observation(NotificationAttributes(epmin=5), 0.0, 1)
    assert observation.on_value(2, 1.0) is False
    assert observation.pending
    assert observation.next_wakeup(1.0) == 5.0
    assert observation.on_timer(5.0, 3) is True
    assert observation.last_notified_value == 3


def test_epmin_does_not_hold_back_pmax() -> None:
    observation = Observation(NotificationAttributes(epmin=50, pmax=10), 0.0, 1)
    assert observation.on_value(2, 3.0) is False
    assert observation.next_wakeup(3.0) == 10.0
    assert observation.on_timer(10.0, 2) is True


def test_epmax_asks_for_samples() -> None:
    observation = Observation(NotificationAttributes(epmin=2, epmax=30), 0.0, 1)
    assert observation.next_sample(0.0) == 30.0
    assert observation.on_value(1, 12.0) is False
    assert observation.next_sample(12.0) == 42.0
    assert observation.next_sample(50.0) == 50.0


@pytest.mark.parametrize(
    "attrs",
    [NotificationAttributes(), NotificationAttributes(epmin=10), NotificationAttributes(epmin=10, epmax=5)],
)
def test_no_sampling_without_epmax_in_force(attrs: NotificationAttributes) -> None:
    assert Observation(attrs, 0.0, 1).next_sample(0.0) is None


def test_lowering_pmin_releases_a_pending_change_at_once() -> None:
    observation = Observation(NotificationAttributes(pmin=60), 0.0, 1)
    assert observation.on_value(2, 5.0) is False
    observation.update_attributes(NotificationAttributes(pmin=0), 6.0)
    assert observation.next_wakeup(6.0) == 6.0
    assert observation.on_timer(6.0, 2) is True


def test_new_thresholds_can_make_a_pending_change_unnecessary() -> None:
    observation = Observation(NotificationAttributes(pmin=60), 0.0, 20.0)
    assert observation.on_value(21.0, 5.0) is False
    observation.update_attributes(NotificationAttributes(pmin=60, st=5.0), 6.0)
    assert not observation.pending
    assert observation.next_wakeup(6.0) is None


def test_new_pmax_already_elapsed_is_due_now() -> None:
    observation = Observation(NotificationAttributes(), 0.0, 1)
    observation.update_attributes(NotificationAttributes(pmax=10), 25.0)
    assert observation.next_wakeup(25.0) == 25.0
    assert observation.on_timer(25.0, 1) is True
    assert observation.next_wakeup(25.0) == 35.0


def test_list_of_pairs_compares_by_equality() -> None:
    initial = [("/3/0/9", 80), ("/3/0/10", 1024)]
    observation = Observation(NotificationAttributes(pmin=1), 0.0, initial)
    assert observation.on_value([("/3/0/9", 80), ("/3/0/10", 1024)], 2.0) is False
    assert observation.on_value([("/3/0/9", 79), ("/3/0/10", 1024)], 3.0) is True
