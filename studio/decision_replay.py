"""Replay a past decision: recompute its whole micro-batch from the stored inputs and pre-batch stream states,
once with the model versions it used and once with today's active versions, and compare."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from sqlalchemy import Engine

from core.domain import Decision
from core.errors import Conflict, NotFound
from core.profiles import Profile
from graph.calibrate import rank_causally
from graph.nodes.alarm import alarm_flags
from graph.nodes.combine import combine_rows
from graph.nodes.govern import govern_rows
from graph.nodes.route import available_arms, contexts
from graph.table import ScoreTable
from models.base import ScoringBatch
from models.bundle import ModelBundle, load_bundle
from models.registry import ModelRegistry
from models.stream_state import StreamFit, StreamState
from policies.rules import RulePack
from policies.slm.policy import evaluate_rules
from runtime.profile_runtime import ProfileRuntime
from store.decisions import decisions_of_batch, get_decision
from store.replay_inputs import batch_states, fit_version
from tools.models import run_model

_BUNDLES: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], ModelBundle] = OrderedDict()
TOLERANCE = 1e-9


@dataclass
class DecisionReplay:
    """What a replay reads: stored decisions and stream fits, the registry's versions, the live bundles."""

    engine: Engine
    registry: ModelRegistry
    profiles: dict[str, Profile]
    packs: dict[str, RulePack]
    runtimes: dict[str, ProfileRuntime]

    async def replay(self, decision_id: str) -> dict[str, Any]:
        """Recompute decision_id with the versions it used (must reproduce it) and with today's active versions."""
        return await asyncio.to_thread(_replay, self, decision_id)


def _bundle(src: DecisionReplay, profile: Profile, versions: dict[str, str]) -> ModelBundle:
    live = src.runtimes[profile.name].bundle
    if live.versions == versions:
        return live
    key = (profile.name, tuple(sorted(versions.items())))
    if key not in _BUNDLES:
        bundle = load_bundle(profile, src.registry, overrides=versions)
        missing = {n: v for n, v in versions.items() if bundle.versions.get(n) != v}
        if missing:
            raise Conflict("the versions this decision used can no longer be loaded", details=bundle.failures)
        _BUNDLES[key] = bundle
        while len(_BUNDLES) > 4:
            _BUNDLES.popitem(last=False)
    return _BUNDLES[key]


def _scoring_batch(src: DecisionReplay, profile: Profile, rows: list[Decision]) -> ScoringBatch:
    ins = [d["replay"] for d in rows]
    X = np.array([r["X"] for r in ins], dtype=float)
    if not profile.is_stream:
        return ScoringBatch(X=X, feature_names=[f.name for f in profile.fields])
    spec = profile.features
    assert spec is not None  # a stream profile has its feature spec
    streams = cast("list[str]", [d["stream"] for d in rows])  # a stream profile's decisions all have one
    pre = batch_states(src.engine, rows[0]["batch_id"])
    states: dict[str, StreamState] = {}
    for s in dict.fromkeys(streams):
        st = StreamState(profile.name, s, spec)
        version = pre.get(s, {}).get("fit_version")
        if version is not None:
            fit = fit_version(src.engine, profile.name, s, version)
            if fit is None:
                raise Conflict(f"stream fit {s}@{version} is missing")
            st.fit = StreamFit.from_json(fit)
        st.model_state = dict(pre.get(s, {}).get("model_states", {}))
        st.ranks = st.model_state.pop("_ranks", {})  # causal calibration histories before the batch
        st.alarm = st.model_state.pop("_alarm", st.alarm)
        states[s] = st

    def col(key: str) -> np.ndarray:
        return np.array([r[key] for r in ins], dtype=float)

    return ScoringBatch(X=X, feature_names=list(spec.names), windows=np.array([r["w"] for r in ins], dtype=float),
                        u=col("u"), values=col("v"), ts=col("ts"), streams=streams, states=states, prev=col("prev"),
                        win_mean=col("wm"), win_std=col("ws"), seen=col("seen"), min_seen=spec.window + 1)


def _recompute(src: DecisionReplay, profile: Profile, rows: list[Decision], bundle: ModelBundle,
               arms: list[str] | None) -> list[dict[str, Any]]:
    """The graph's fan_out -> route -> combine -> govern on stored inputs (arms given: the logged ones)."""
    batch = _scoring_batch(src, profile, rows)
    outputs = {name: run_model(model, bundle.version_of(name), batch) for name, model in bundle.models.items()}
    if profile.features is not None and profile.features.calibration == "causal":
        rank_causally(outputs, batch, bundle)
    table = ScoreTable.build(outputs, len(rows))
    pack = src.packs[profile.name]
    quantities = [d["replay"]["q"] for d in rows]
    fired = []
    for d, q in zip(rows, quantities, strict=True):
        watch = next((s["value"] for s in d["signals"] if s["name"] == "watchlisted"), False)
        fields = dict(d["inputs"]["features"]) if profile.is_stream else dict(
            zip(batch.feature_names, d["replay"]["X"], strict=True))
        ctx = {k: v for k, v in d["inputs"]["context"].items() if isinstance(v, (str, int, float, bool))}
        fired.append(evaluate_rules(pack, {**ctx, **fields, **q, "watchlisted": watch, "stream": d["stream"],
                                           "profile": profile.name})[0])
    if arms is None:
        rt = src.runtimes[profile.name]
        X = contexts(rt, batch, table)
        avail = available_arms(profile, rt.router.state.arms, bundle, table)
        with rt.router.lock:
            choices = rt.router.state.choose_many(X, np.random.default_rng(0), np.zeros(len(rows), dtype=bool),
                                                  avail)
        arms = [c.arm for c in choices]
    combined = combine_rows(profile, bundle, table, arms, quantities)
    rulings = govern_rows(profile, combined, fired, table, alarm_flags(profile.alarm, batch, combined))
    entries = table.entries()
    out = []
    for i in range(len(rows)):
        out.append({"score": combined[i]["score"], "severity": rulings[i].severity, "action": rulings[i].action,
                    "label": rulings[i].label, "arm": arms[i], "disagreement": combined[i]["disagreement"],
                    "rules": [r["rule"] for r in fired[i]], "models": {m["name"]: m["score"] for m in entries[i]},
                    "governor": [a["rule"] for a in rulings[i].actions], "versions": dict(bundle.versions)})
    return out


def _compare(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    diff = []
    for key in ("action", "severity", "label", "arm", "score", "disagreement", "rules", "governor"):
        if not _same(a[key], b[key]):
            diff.append({"field": key, "original": a[key], "current": b[key]})
    for name in sorted(set(a["models"]) | set(b["models"])):
        x, y = a["models"].get(name), b["models"].get(name)
        if not _same(x, y):
            diff.append({"field": f"models.{name}", "original": x, "current": y})
    for name in sorted(set(a["versions"]) | set(b["versions"])):
        if a["versions"].get(name) != b["versions"].get(name):
            diff.append({"field": f"versions.{name}", "original": a["versions"].get(name),
                         "current": b["versions"].get(name)})
    return diff


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return abs(x - y) <= TOLERANCE
    return bool(x == y)


def _replay(src: DecisionReplay, decision_id: str) -> dict[str, Any]:
    d = get_decision(src.engine, decision_id)
    if d is None:
        raise NotFound(f"no decision {decision_id!r}")
    if not d.get("replay"):
        raise Conflict("this decision predates replay inputs; it cannot be recomputed")
    profile = src.profiles[d["profile"]]
    rows = decisions_of_batch(src.engine, d["batch_id"])
    i = next(k for k, r in enumerate(rows) if r["id"] == decision_id)
    original = _recompute(src, profile, rows, _bundle(src, profile, d["model_versions"]),
                          [r["router"]["arm"] for r in rows])[i]
    current = _recompute(src, profile, rows, src.runtimes[profile.name].bundle, None)[i]
    stored = {"score": d["score"], "severity": d["severity"], "action": d["action"], "label": d["label"],
              "arm": d["router"]["arm"], "disagreement": d["disagreement"], "rules": [r["rule"] for r in d["rules"]],
              "models": {m["name"]: m["score"] for m in d["models"]},
              "governor": [a["rule"] for a in d["governor"]["actions"]], "versions": d["model_versions"]}
    mismatch = _compare(stored, original)
    return {"decision_id": decision_id, "batch_id": d["batch_id"], "batch_size": len(rows), "stored": stored,
            "original": original, "current": current, "matches_original": not mismatch,
            "original_vs_stored": mismatch, "diff": _compare(original, current)}
