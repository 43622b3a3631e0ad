"""The graph's causal-calibration and alarm steps on hand-built batches: rank_causally (fan_out), the fixed
max combination (combine), alarm_flags (alarm), and keep_persistent (a stream refit keeps the live state of
models whose state the fit does not own)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from core.profiles import AlarmSpec, CombineSpec, load_profile
from graph.calibrate import rank_causally
from graph.nodes import fan_out as fan_out_node
from graph.nodes.alarm import alarm_flags
from graph.nodes.combine import combine_rows
from graph.table import ScoreTable
from models.base import ModelScores
from models.calibration import EcdfCalibrator, IdentityCalibrator
from models.online_rank import OnlineRank
from models.stream_state import StreamState
from policies.alarm import alarm_points
from runtime.streams import keep_persistent
from studio import PROJECT_ROOT
from tools.results import ToolResult

OPS = load_profile(PROJECT_ROOT / "profiles" / "ops.yaml")
MAX_OF_TWO = OPS.model_copy(update={"combine": CombineSpec(members=["context_novelty", "novel_level"])})


def _state(stream: str) -> StreamState:
    assert OPS.features is not None
    return StreamState("ops", stream, OPS.features)


def _ok(name: str, raw: np.ndarray, ready: np.ndarray | None = None, score: np.ndarray | None = None,
        family: str = "detector") -> ToolResult:
    n = raw.size
    return ToolResult(name, "v1", family, "ok", scores=ModelScores(
        raw=raw.astype(float), score=np.full(n, 0.5) if score is None else score.astype(float),
        ready=np.ones(n, dtype=bool) if ready is None else ready))


def _scores(res: ToolResult) -> ModelScores:
    assert res.scores is not None
    return res.scores


# -- rank_causally -------------------------------------------------------------------------------------------
def test_rank_causally_ranks_each_stream_against_its_own_past_only() -> None:
    rng = np.random.default_rng(0)
    cal = EcdfCalibrator.fit(rng.standard_normal(3000))
    bundle = SimpleNamespace(models={"m": SimpleNamespace(calibrator_=cal)})
    states = {"a": _state("a"), "b": _state("b")}
    history = OnlineRank()
    history.rank_and_add(cal.transform_mid(rng.standard_normal(400)))
    states["a"].ranks = {"m": history.to_json()}  # stream a has a past, b has none
    old_ranks = states["a"].ranks
    old_json = dict(old_ranks["m"])

    streams = ["a", "b", "a", "a", "b", "a", "b", "a"]
    raw = rng.standard_normal(len(streams))
    ready = np.array([True, True, False, True, True, True, True, True])
    out = {"m": _ok("m", raw, ready), "down": ToolResult("down", None, "detector", "failed", error="boom")}
    before = _scores(out["m"]).score.copy()
    batch = SimpleNamespace(streams=streams, states=states)
    rank_causally(out, batch, bundle)

    score = _scores(out["m"]).score
    for stream, start in (("a", OnlineRank.from_json(old_json)), ("b", OnlineRank())):
        rows = np.array([i for i, s in enumerate(streams) if s == stream and ready[i]])
        np.testing.assert_array_equal(score[rows], start.rank_and_add(cal.transform_mid(raw)[rows]))
        assert states[stream].ranks["m"] == start.to_json()
    assert score[2] == before[2]  # not ready: neither ranked nor added
    assert OnlineRank.from_json(states["b"].ranks["m"]).n == 3 and OnlineRank.from_json(states["a"].ranks["m"]).n == 404
    assert "down" not in states["a"].ranks and "down" not in states["b"].ranks
    # replaced, never changed in place: a snapshot taken before the batch still holds the old history
    assert states["a"].ranks is not old_ranks and old_ranks["m"] == old_json


def test_rank_causally_uses_the_calibrated_score_as_prior_without_an_ecdf() -> None:
    bundle = SimpleNamespace(models={"meta_like": SimpleNamespace(calibrator_=IdentityCalibrator())})
    states = {"s": _state("s")}
    prior = np.array([0.1, 0.999, 0.5])
    out = {"meta_like": _ok("meta_like", np.array([7.0, 8.0, 9.0]), score=prior)}
    rank_causally(out, SimpleNamespace(streams=["s"] * 3, states=states), bundle)
    np.testing.assert_array_equal(_scores(out["meta_like"]).score, OnlineRank().rank_and_add(prior))
    assert _scores(out["meta_like"]).score[0] == 0.1  # first point: the prior alone


def test_rank_causally_in_two_batches_equals_one_batch() -> None:
    rng = np.random.default_rng(1)
    cal = EcdfCalibrator.fit(rng.standard_normal(2000))
    bundle = SimpleNamespace(models={"m": SimpleNamespace(calibrator_=cal)})
    raw = rng.standard_normal(300)
    one = {"m": _ok("m", raw)}
    rank_causally(one, SimpleNamespace(streams=["s"] * 300, states={"s": _state("s")}), bundle)
    st = _state("s")
    parts = []
    for chunk in (raw[:1], raw[1:120], raw[120:]):
        res = {"m": _ok("m", chunk)}
        rank_causally(res, SimpleNamespace(streams=["s"] * chunk.size, states={"s": st}), bundle)
        parts.append(_scores(res["m"]).score)
    np.testing.assert_array_equal(np.concatenate(parts), _scores(one["m"]).score)


@pytest.mark.parametrize("calibration", ["causal", "per_stream"])
def test_fan_out_ranks_only_causal_profiles_and_reports_every_models_latency(
        calibration: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    cal = EcdfCalibrator.fit(rng.standard_normal(2000))
    raw = {"context_novelty": rng.standard_normal(5), "novel_level": rng.standard_normal(5)}
    models = {name: SimpleNamespace(name=name, family="detector", calibrator_=cal) for name in raw}

    def run_model(model: Any, version: str | None, batch: Any) -> ToolResult:
        return ToolResult(model.name, version, "detector", "ok", latency_ms=1.5, scores=ModelScores(
            raw=raw[model.name].copy(), score=np.full(5, 0.25), ready=np.ones(5, dtype=bool)))

    monkeypatch.setattr(fan_out_node, "run_model", run_model)
    monkeypatch.setattr(fan_out_node, "run_slms", lambda rt, events, batch, lookups: [])
    assert OPS.features is not None
    profile = OPS.model_copy(update={"features": OPS.features.model_copy(update={"calibration": calibration})})
    latencies: list[tuple[str, str, str]] = []
    metrics = SimpleNamespace(model_latency=lambda prof, name, status, ms: latencies.append((prof, name, status)))
    ctx = SimpleNamespace(runtime=SimpleNamespace(profile=profile), executor=None, inline_below=64,
                          tool_timeout_s=5.0, lookups=None, metrics=metrics)
    bundle = SimpleNamespace(models=models, failures={"lof": "missing artifact"},
                             version_of=lambda name: "v1")
    states = {"s": _state("s")}
    batch = SimpleNamespace(streams=["s"] * 5, states=states)
    state: Any = {"bundle": bundle, "batch": batch, "events": [None] * 5}
    runtime: Any = SimpleNamespace(context=ctx)
    out = asyncio.run(fan_out_node.fan_out(state, runtime))
    assert sorted(latencies) == [("ops", "context_novelty", "ok"), ("ops", "lof", "failed"), ("ops", "novel_level", "ok")]
    for name in raw:
        score = _scores(out["outputs"][name]).score
        if calibration == "causal":
            np.testing.assert_array_equal(score, OnlineRank().rank_and_add(cal.transform_mid(raw[name])))
        else:
            np.testing.assert_array_equal(score, np.full(5, 0.25))
    assert (set(states["s"].ranks) == set(raw)) == (calibration == "causal")


# -- combine: the fixed max of members -----------------------------------------------------------------------
def test_fixed_combine_is_the_max_of_the_answered_members_whatever_the_arm() -> None:
    n = 4
    outputs = {
        "context_novelty": _ok("context_novelty", np.zeros(n), ready=np.array([True, True, False, False]),
                               score=np.array([0.2, 0.995, 0.9, 0.9])),
        "novel_level": _ok("novel_level", np.zeros(n), ready=np.array([True, True, True, False]),
                           score=np.array([0.6, 0.1, 0.4, 0.9])),
        "isolation_forest": _ok("isolation_forest", np.zeros(n), score=np.full(n, 0.9999)),  # not a member
        "arima": _ok("arima", np.zeros(n), score=np.full(n, 0.9999), family="forecaster"),
    }
    table = ScoreTable.build(outputs, n)
    bundle = SimpleNamespace(meta=None, pipeline=None)
    for arm in ("ensemble", "detectors", "forecasters"):
        rows = combine_rows(MAX_OF_TWO, bundle, table, [arm] * n, [{} for _ in range(n)])
        assert [r["score"] for r in rows] == [0.6, 0.995, 0.4, 0.0]
        assert all(r["method"] == "max_of_members" for r in rows)
        assert rows[0]["trusted"] == ["context_novelty", "novel_level"]
        assert rows[2]["trusted"] == ["novel_level"] and rows[3]["trusted"] == []
        # disagreement counts above the watch line (0.95) only: 0.2 vs 0.6 is calm, 0.995 vs 0.1 is not
        assert rows[0]["disagreement"] == 0.0 and rows[2]["disagreement"] == 0.0
        assert rows[1]["disagreement"] == 0.9
        assert rows[1]["severity"] == 10


def test_without_a_fixed_combine_the_arm_mean_decides() -> None:
    n = 2
    outputs = {"context_novelty": _ok("context_novelty", np.zeros(n), score=np.array([0.2, 0.8])),
               "arima": _ok("arima", np.zeros(n), score=np.array([0.6, 0.4]), family="forecaster")}
    routed = OPS.model_copy(update={"combine": None})
    rows = combine_rows(routed, SimpleNamespace(meta=None, pipeline=None), ScoreTable.build(outputs, n),
                        ["ensemble", "detectors"], [{}, {}])
    assert [r["score"] for r in rows] == [0.4, 0.8]
    assert [r["method"] for r in rows] == ["mean_of_trusted", "mean_of_trusted"]


# -- alarm_flags ---------------------------------------------------------------------------------------------
def test_alarm_flags_follow_each_stream_on_its_own_positions_and_advance_its_state() -> None:
    spec = AlarmSpec(threshold=0.99, refractory=3)
    states = {"a": _state("a"), "b": _state("b")}
    states["b"].alarm = {"last": 9, "above": False}
    old_b = states["b"].alarm
    streams = ["a", "b", "a", "b", "a", "a", "b", "a"]
    scores = [0.995, 0.999, 0.1, 0.2, 0.999, 0.1, 0.995, 0.999]
    seen = np.array([1, 11, 2, 12, 3, 4, 13, 5], dtype=float)  # stream positions, counting this point
    batch = SimpleNamespace(streams=streams, states=states, seen=seen)
    flags = alarm_flags(spec, batch, [{"score": s} for s in scores])
    assert flags is not None and len(flags) == len(streams)
    expected: dict[int, bool] = {}
    for stream, start in (("a", {"last": None, "above": False}), ("b", old_b)):
        idx = [i for i, s in enumerate(streams) if s == stream]
        f, end = alarm_points([scores[i] for i in idx], [int(seen[i]) for i in idx], dict(start),
                              threshold=0.99, refractory=3)
        expected.update(zip(idx, f, strict=True))
        assert states[stream].alarm == end
    assert flags == [expected[i] for i in range(len(streams))]
    # a: 1 alarms, 3 is inside the refractory period, 5 (5 - 1 > 3) alarms; b: 11 is within 3 of 9, 13 alarms
    assert flags == [True, False, False, False, False, False, True, True]
    assert old_b == {"last": 9, "above": False}  # replaced, not changed in place (undo)


def test_no_alarm_section_means_no_alarm_stage() -> None:
    batch: Any = SimpleNamespace(streams=["a"], states={"a": _state("a")}, seen=np.array([1.0]))
    assert alarm_flags(None, batch, [{"score": 1.0}]) is None
    assert batch.states["a"].alarm == {"last": None, "above": False}


# -- keep_persistent -----------------------------------------------------------------------------------------
def test_a_refit_keeps_the_live_state_of_persistent_models_only() -> None:
    persistent = SimpleNamespace(persistent_state=True)
    bundle: Any = SimpleNamespace(models={"context_novelty": persistent, "novel_level": persistent,
                                          "autoreg": SimpleNamespace(), "cusum": SimpleNamespace(persistent_state=False)})
    st = _state("s")
    st.model_state = {"context_novelty": {"k": 900}, "autoreg": {"live": 1}, "cusum": {"live": 2}}
    fit_states = {"context_novelty": {"k": 60}, "novel_level": {"n": 300}, "autoreg": {"fit": 1},
                  "cusum": {"fit": 2}}
    merged = keep_persistent(st, fit_states, bundle)
    assert merged == {"context_novelty": {"k": 900},  # live: it has seen the whole stream
                      "novel_level": {"n": 300},  # no live state yet: the fit's
                      "autoreg": {"fit": 1}, "cusum": {"fit": 2}}  # the fit owns these
    assert fit_states["context_novelty"] == {"k": 60}  # inputs untouched
    st.set_fit(SimpleNamespace(), merged)  # type: ignore[arg-type]
    assert st.model_state["context_novelty"] == {"k": 900}
