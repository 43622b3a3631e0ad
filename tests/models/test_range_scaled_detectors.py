"""The two range-scaled stream detectors (context_novelty, novel_level): invariant to the stream's unit and
offset, silent on what the stream has already shown, positive on a new shape or level, gated on noise, with a
bounded JSON state that makes chunked scoring equal to one run."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from models.base import ScoringBatch, SeriesData, TrainingSet
from models.catalog import create
from models.detectors.context_novelty import ContextNoveltyModel
from models.detectors.novel_level import NovelLevelModel
from models.detectors.range_scaled import RangeScaledDetector, stream_range
from models.stream_state import StreamState
from tests.models.conftest import PROFILES

PERIOD = 100


def _run(model: RangeScaledDetector, v: np.ndarray,
         state: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    local = dict(model.params)
    st = model.initial_state(local) if state is None else state
    raw, _, new = model.run(local, st, np.asarray(v, dtype=float), np.arange(len(v), dtype=float))
    return raw, new


def _periodic(n: int = 3000, seed: int = 1) -> np.ndarray:
    t = np.arange(n)
    return np.sin(2 * np.pi * t / PERIOD) + 0.01 * np.random.default_rng(seed).standard_normal(n)


@pytest.mark.parametrize("cls", [ContextNoveltyModel, NovelLevelModel])
def test_raw_scores_do_not_depend_on_unit_or_offset(cls: type[RangeScaledDetector]) -> None:
    v = _periodic()
    v[2020:2030] = -v[2020:2030]  # something to score
    v[2500] = 1.5  # a new level
    a, _ = _run(cls(), v)
    b, _ = _run(cls(), 1000.0 * v + 7.0)
    assert np.count_nonzero(a) > 0
    np.testing.assert_array_equal(a > 0, b > 0)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_context_novelty_is_silent_on_a_periodic_series_and_fires_on_a_new_shape_near_it() -> None:
    model = ContextNoveltyModel()
    clean, state = _run(model, _periodic())
    assert np.count_nonzero(clean[3 * PERIOD:]) == 0
    assert 0 < len(state["mem"]) <= 40  # a few periods' contexts learnt, then matched

    v = _periodic()
    v[2020:2030] = -v[2020:2030]  # a shape the stream has never shown
    raw, _ = _run(model, v)
    hits = np.nonzero(raw[3 * PERIOD:])[0] + 3 * PERIOD
    reach = int(model.params["stride"]) * (int(model.params["window"]) + 1)  # points a context spans
    assert hits.size >= 1
    assert hits.min() >= 2020 and hits.max() < 2030 + reach, hits
    assert raw[hits].min() > model.params["vigilance"]


def test_context_novelty_gates_iid_noise() -> None:
    model = ContextNoveltyModel()
    noise = np.random.default_rng(2).standard_normal(5000)
    raw, state = _run(model, noise)
    # noise keeps producing contexts the memory has not seen (it fills up) ...
    assert len(state["mem"]) == model.params["memory"]
    # ... but a stream that keeps surprising is not surprising: almost no positive raw scores
    assert np.count_nonzero(raw) <= 5


def test_context_novelty_memory_never_exceeds_its_cap() -> None:
    model = ContextNoveltyModel(memory=16)
    rng = np.random.default_rng(3)
    _, state = _run(model, rng.standard_normal(800))
    for _ in range(4):
        _, state = _run(model, rng.standard_normal(800), state)
        assert len(state["mem"]) <= 16 and len(state["age"]) == len(state["mem"])
    assert len(state["mem"]) == 16
    assert all(len(row) == model.params["window"] for row in state["mem"])


def test_novel_level_fires_only_beyond_the_range_by_more_than_the_tolerance() -> None:
    model = NovelLevelModel()  # tolerance 0.02, burn_in 30
    base = [0.0, 1.0, *np.random.default_rng(8).uniform(0.0, 1.0, 38)]  # the range 0..1 from the start
    v = np.array([*base, 0.5, 1.01, 0.3, 1.05, 0.0, -0.2, 0.9, -0.2, 2.0])
    raw, state = _run(model, v)
    assert np.count_nonzero(raw[:40]) == 0  # inside the range (and the burn-in)
    assert raw[40] == 0.0  # inside
    assert raw[41] == 0.0  # 1% beyond the range: within the tolerance (the range becomes 0..1.01)
    assert raw[42] == 0.0
    assert raw[43] == pytest.approx(0.04 / 1.01)  # 1.05 beyond 1.01 by 4% of the range
    assert raw[44] == 0.0  # the minimum already seen is not beyond
    assert raw[45] == pytest.approx(0.2 / 1.05)  # below the range
    assert raw[46] == 0.0 and raw[47] == 0.0  # the range now includes -0.2
    assert raw[48] == pytest.approx(0.95 / 1.25)
    assert state == {"lo": -0.2, "hi": 2.0, "n": v.size}


def test_novel_level_is_silent_during_its_burn_in() -> None:
    model = NovelLevelModel(burn_in=30)
    v = np.zeros(40)
    v[5], v[29], v[35] = 100.0, 1000.0, 5000.0
    raw, _ = _run(model, v)
    assert np.count_nonzero(raw[:30]) == 0
    assert raw[35] == pytest.approx(4000.0 / 1000.0)


@pytest.mark.parametrize("cls", [ContextNoveltyModel, NovelLevelModel])
def test_state_round_trips_through_json_and_chunked_runs_equal_one_run(cls: type[RangeScaledDetector]) -> None:
    v = _periodic(2000, seed=4)
    v[1200:1210] = -v[1200:1210]
    v[1500] = 3.0
    whole, end = _run(cls(), v)
    state: dict[str, Any] | None = None
    parts = []
    for chunk in np.array_split(v, [1, 3, 333, 1201, 1205]):
        before = json.dumps(state)
        raw, new = _run(cls(), chunk, state)
        assert json.dumps(state) == before  # the input state is not changed in place (a batch can be undone)
        parts.append(raw)
        state = new
        state = json.loads(json.dumps(state))  # what the stream store does between batches
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert json.loads(json.dumps(end)) == state


def test_stream_range_is_positive_for_a_constant_stream() -> None:
    assert stream_range(3.0, 3.0) == pytest.approx(3e-9)
    assert stream_range(0.0, 0.0) == pytest.approx(1e-9)
    assert stream_range(-2.0, 5.0) == 7.0
    raw, _ = _run(ContextNoveltyModel(), np.full(500, 42.0))
    assert np.count_nonzero(raw) == 0


def _series(name: str, v: np.ndarray) -> SeriesData:
    ts = 300.0 * np.arange(v.size)
    return SeriesData(name=name, ts=ts, values=v, u=(v - v.mean()) / v.std(), warmup=300)


@pytest.mark.parametrize("name", ["context_novelty", "novel_level"])
def test_registered_fit_and_score_through_stream_states(name: str) -> None:
    model = create(name)
    assert isinstance(model, RangeScaledDetector) and model.persistent_state and model.calibrate_per_stream
    series = [_series("a", 50 + 10 * _periodic(1500, seed=5)), _series("b", 3 + _periodic(1500, seed=6))]
    n_rows = sum(s.values.size for s in series)
    model.fit(TrainingSet(X=np.zeros((n_rows, 1)), feature_names=["level"], series=series))
    assert model.calibrator_ is not None and set(model.train_raw_) == {"a", "b"}
    assert model.train_raw_["a"].size == 1500 - 300  # the points after the warm-up are the prior

    spec = PROFILES["ops"].features
    assert spec is not None
    v = 20.0 + 5.0 * _periodic(900, seed=7)
    v[700:710] = 20.0 - 5.0 * _periodic(900, seed=7)[700:710]
    v[800] = 40.0

    def batch(vals: np.ndarray, st: StreamState, garbage_u: float) -> ScoringBatch:
        n = vals.size
        return ScoringBatch(X=np.zeros((n, 1)), feature_names=["level"], u=np.full(n, garbage_u), values=vals,
                            ts=300.0 * np.arange(n), streams=["s"] * n, states={"s": st})

    one = StreamState("ops", "s", spec)
    whole = model.score(batch(v, one, 0.0))
    assert whole.ready.all() and whole.new_states is not None
    two = StreamState("ops", "s", spec)
    raws = []
    for part, garbage in ((v[:450], 1e6), (v[450:], -1e6)):  # it reads raw values, never u
        res = model.score(batch(part, two, garbage))
        assert res.new_states is not None
        two.model_state[name] = res.new_states["s"]
        raws.append(res.raw)
    np.testing.assert_array_equal(np.concatenate(raws), whole.raw)
    assert np.count_nonzero(whole.raw[700:]) > 0  # the new shape and level
    assert np.all((whole.score >= 0) & (whole.score <= 1))
