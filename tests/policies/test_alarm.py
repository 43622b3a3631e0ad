"""The alarm stage (policies/alarm.py): the first point of a run at or above the threshold alarms, the rest of
the run does not, and nothing alarms within `refractory` points of the previous alarm; the state carried between
calls makes any split of the stream equal to one call."""

from __future__ import annotations

import numpy as np
import pytest

from policies.alarm import alarm_points

FRESH = {"last": None, "above": False}


def _flags(scores: list[float], start: int = 1, state: dict | None = None, *, threshold: float = 0.99,
           refractory: int = 5) -> tuple[list[bool], dict]:
    return alarm_points(scores, range(start, start + len(scores)), dict(state or FRESH), threshold=threshold,
                        refractory=refractory)


def test_first_point_of_a_run_alarms_and_the_rest_of_the_run_does_not() -> None:
    flags, state = _flags([0.1, 0.99, 0.995, 1.0, 0.999, 0.2])
    assert flags == [False, True, False, False, False, False]
    assert state == {"last": 2, "above": False}


def test_threshold_is_inclusive_and_a_first_point_above_alarms() -> None:
    assert _flags([0.99])[0] == [True]
    assert _flags([0.98999])[0] == [False]


def test_a_new_run_inside_the_refractory_period_does_not_alarm_one_after_it_does() -> None:
    # alarm at position 1; refractory 5: positions 2..6 are quiet, 7 on may alarm again
    flags, _ = _flags([1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0], refractory=5)
    assert flags == [True, False, False, False, False, False, False, True]  # 6 - 1 = 5: quiet; 8 - 1 = 7: alarm
    flags, _ = _flags([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], refractory=5)
    assert flags == [True, False, False, False, False, False, True]  # 7 - 1 = 6 > 5


def test_a_run_that_starts_in_the_refractory_period_and_outlasts_it_does_not_alarm() -> None:
    # only the start of a run can alarm: a run begun during the quiet period stays one unreported episode
    flags, _ = _flags([1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], refractory=3)
    assert flags == [True] + [False] * 9


def test_refractory_zero_alarms_on_every_run_start() -> None:
    flags, _ = _flags([1.0, 0.0, 1.0, 1.0, 0.0, 1.0], refractory=0)
    assert flags == [True, False, True, False, False, True]


def test_positions_not_the_index_measure_the_refractory_period() -> None:
    flags, state = alarm_points([1.0, 0.0, 1.0], [10, 11, 40], dict(FRESH), threshold=0.5, refractory=20)
    assert flags == [True, False, True] and state["last"] == 40


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_state_carried_across_calls_equals_one_call(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = np.where(rng.uniform(size=600) < 0.05, 0.995, rng.uniform(0.0, 0.98, 600)).tolist()
    scores[100:110] = [0.999] * 10  # a long run across a split
    whole, end = _flags(scores, refractory=7)
    assert sum(whole) > 3
    for cut in (1, 105, 299, 599):
        a, mid = _flags(scores[:cut], refractory=7)
        b, end2 = _flags(scores[cut:], start=1 + cut, state=mid, refractory=7)
        assert a + b == whole and end2 == end


def test_the_input_state_is_not_changed_and_the_empty_call_keeps_it() -> None:
    state = {"last": 3, "above": True}
    flags, out = alarm_points([], [], state, threshold=0.9, refractory=2)
    assert flags == [] and out == {"last": 3, "above": True}
    _, out = alarm_points([0.1], [4], state, threshold=0.9, refractory=2)
    assert state == {"last": 3, "above": True} and out == {"last": 3, "above": False}


def test_mismatched_lengths_are_an_error() -> None:
    with pytest.raises(ValueError):
        alarm_points([1.0, 1.0], [1], dict(FRESH), threshold=0.5, refractory=0)
