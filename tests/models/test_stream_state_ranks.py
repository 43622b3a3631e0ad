"""StreamState keeps the causal-calibration histories (`ranks`) and the alarm stage's state (`alarm`): both
survive a JSON round trip (a restart) and a failed batch's restore()."""

from __future__ import annotations

import json

import numpy as np

from core.profiles import StreamFeatureSpec
from models.online_rank import OnlineRank
from models.stream_state import StreamState
from policies.alarm import alarm_points
from tests.models.conftest import PROFILES

_SPEC = PROFILES["ops"].features
assert _SPEC is not None
SPEC: StreamFeatureSpec = _SPEC


def _state() -> StreamState:
    st = StreamState("ops", "s", SPEC)
    st.append(300.0 * np.arange(5), np.arange(5, dtype=float))
    return st


def _advance(st: StreamState, u: np.ndarray) -> None:
    """What fan_out's rank_causally and the alarm node do to a stream's state for one batch: replace both."""
    hist = OnlineRank.from_json(st.ranks.get("m"))
    ranks = hist.rank_and_add(u)
    st.ranks = {**st.ranks, "m": hist.to_json()}
    start = st.n_seen - u.size + 1
    _, st.alarm = alarm_points(ranks.tolist(), range(start, start + u.size), st.alarm, threshold=0.9, refractory=2)


def test_new_stream_has_empty_histories_and_a_fresh_alarm_state() -> None:
    st = _state()
    assert st.ranks == {} and st.alarm == {"last": None, "above": False}
    old = StreamState.from_json("ops", "s", SPEC, {"ts": [], "values": [], "n_seen": 0, "run": [0, 0.0, 0.0]}, None)
    assert old.ranks == {} and old.alarm == {"last": None, "above": False}  # states saved before this change


def test_ranks_and_alarm_round_trip_through_json() -> None:
    st = _state()
    _advance(st, np.array([0.1, 0.95, 0.2, 0.99, 0.3]))
    assert st.alarm["last"] is not None
    data = json.loads(json.dumps(st.to_json()))
    back = StreamState.from_json("ops", "s", SPEC, data, None)
    assert back.ranks == st.ranks and back.alarm == st.alarm
    # and the restored history continues exactly as the live one
    nxt = np.array([0.5, 0.999, 0.01])
    live = OnlineRank.from_json(st.ranks["m"]).rank_and_add(nxt)
    restored = OnlineRank.from_json(back.ranks["m"]).rank_and_add(nxt)
    np.testing.assert_array_equal(live, restored)


def test_restore_undoes_a_failed_batch_on_ranks_and_alarm() -> None:
    st = _state()
    _advance(st, np.array([0.1, 0.95, 0.2]))
    ranks_before = json.loads(json.dumps(st.ranks))
    alarm_before = dict(st.alarm)
    snap = st.snapshot()
    st.append(300.0 * np.arange(5, 8), np.array([1.0, 2.0, 3.0]))
    _advance(st, np.array([0.99, 0.98, 0.97]))
    assert st.ranks != ranks_before and st.alarm != alarm_before
    st.restore(snap)
    assert st.ranks == ranks_before and st.alarm == alarm_before and st.n_seen == 5

