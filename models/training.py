"""Train a profile end to end: every model of its lineup, the meta-classifier, metrics, registry versions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.profiles import Profile
from core.testhooks import pause_point
from models.base import ScoringBatch, TrainingSet, classification_metrics
from models.catalog import create
from models.datasets import ProfileData, build_profile_data
from models.drift_reference import build_reference
from models.pipeline import FeaturePipeline
from models.registry import ModelRegistry
from models.sequential import SequentialModel, train_raw_rows
from policies.rules import RulePack
from policies.slm.math import meta_math_names, tabular_math


@dataclass
class TrainReport:
    profile: str
    versions: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    rows: int = 0
    quarantined: list[dict[str, Any]] = field(default_factory=list)  # leftovers of a killed training, moved away


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=not enabled, leave=True, dynamic_ncols=True)


def train_profile(
    profile: Profile, pack: RulePack, *, data_dir: Path, registry: ModelRegistry, actor: str = "cli",
    input_csv: Path | None = None, progress: bool = True, activate: bool = True,
) -> TrainReport:
    """Fit every model, record metrics, publish versions and (by default) activate them."""
    import torch

    torch.set_num_threads(2)
    start = time.perf_counter()
    quarantined = registry.recover(profile.name, actor=actor)  # what an earlier, killed training left behind
    data = build_profile_data(profile, data_dir, input_csv)
    extra = feedback_rows(profile, data, registry)
    names = profile.models.all()
    steps = len(names) + (1 if profile.models.meta else 0) + 2
    fitted: dict[str, Any] = {}
    report = TrainReport(profile=profile.name, rows=data.n_rows, quarantined=quarantined)
    with _progress(steps, f"train {profile.name}", progress) as bar:
        for name in names:
            bar.set_postfix_str(name)
            model = create(name, profile.models.params.get(name))
            model.fit(with_feedback(data.train, extra) if model.family == "classifier" else data.train)
            fitted[name] = model
            report.metrics[name] = model_metrics(model, data.train)
            bar.update()
        meta_inputs: list[str] = []
        stack = None
        if profile.models.meta:
            bar.set_postfix_str(profile.models.meta)
            stack = fit_meta(profile, pack, data, fitted, extra)
            fitted[stack.model.name] = stack.model
            report.metrics[stack.model.name] = stack.metrics
            meta_inputs = stack.inputs
            bar.update()
        bar.set_postfix_str("router")
        router = train_router(profile, data, fitted, stack, data_dir)
        if router is not None:
            fitted[router.name] = router
            report.metrics[router.name] = router.metrics_
        bar.update()
        causal = profile.features is not None and profile.features.calibration == "causal"
        reference = build_reference(data.train, {n: fitted[n] for n in names}, causal=causal)
        pipeline = FeaturePipeline(list(data.train.feature_names), data.medians, meta_inputs, names, reference)
        fitted[pipeline.name] = pipeline
        report.metrics[pipeline.name] = {"rows": data.n_rows, "feedback_rows": 0 if extra is None else int(extra.y.size)}
        bar.set_postfix_str("publish")
        for name, model in fitted.items():
            report.versions[name] = registry.publish(profile.name, model, data_sha256=data.data_hash,
                                                     metrics=report.metrics[name], actor=actor)
        pause_point("train.published")
        if activate:  # all of the profile's new versions or none of them (a kill before this activates nothing)
            registry.activate_many(profile.name, report.versions, actor=actor, reason="trained")
        bar.update()
    seed_baselines(profile, data, registry)
    report.seconds = round(time.perf_counter() - start, 2)
    return report


def seed_baselines(profile: Profile, data: ProfileData, registry: ModelRegistry, days: float = 30.0) -> None:
    """The last 30 days of each training stream become its baseline until live decisions replace it."""
    from store import baselines
    from store.engine import write_tx
    from store.ids import now_iso

    rows = []
    for s in data.train.series:
        recent = s.values[s.ts >= s.ts[-1] - days * 86400]
        if recent.size >= 5:
            rows.append({"profile": profile.name, "stream": s.name, "mean": float(recent.mean()),
                         "std": float(recent.std()), "n": int(recent.size), "window_days": days,
                         "computed_at": now_iso(), "source": "training"})
    with write_tx(registry.engine) as conn:
        baselines.upsert(conn, rows)


def model_metrics(model: Any, train: TrainingSet) -> dict[str, Any]:
    """Classifier: validation AUC / PR-AUC. Forecaster: MASE. Detector: score distribution (and AUC if labelled)."""
    metrics: dict[str, Any] = dict(getattr(model, "metrics_", {}) or {})
    if isinstance(model, SequentialModel):
        per = getattr(model, "series_metrics_", {})
        metrics["per_stream"] = {s: {k: round(v, 4) for k, v in m.items()} for s, m in per.items()}
        if per and all("mase" in m for m in per.values()):
            metrics["mase_median"] = round(float(np.median([m["mase"] for m in per.values()])), 4)
        raw = np.concatenate(list(getattr(model, "train_raw_", {}).values()) or [np.zeros(1)])
        metrics["score_quantiles"] = _quantiles(model.calibrator_.transform(raw))  # type: ignore[union-attr]
        return metrics
    if model.family == "detector" or model.name == "lstm_forecaster":
        _, val = train.split()
        scores = model.score(ScoringBatch(X=train.X[val], feature_names=train.feature_names,
                                          windows=None if train.windows is None else train.windows[val])).score
        metrics["score_quantiles"] = _quantiles(scores)
        if train.y is not None and len(np.unique(train.y[val])) == 2:
            metrics["validation_auc_vs_label"] = classification_metrics(train.y[val], scores)["auc"]
    return metrics


def _quantiles(x: np.ndarray) -> dict[str, float]:
    return {name: round(float(np.quantile(x, q)), 4)
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999))}


def base_inputs(fitted: dict[str, Any], names: list[str], train: TrainingSet) -> np.ndarray:
    """Meta inputs of the unsupervised models for every training row (NaN where a model could not answer)."""
    cols = []
    batch = ScoringBatch(X=train.X, feature_names=train.feature_names, windows=train.windows)
    for name in names:
        model = fitted[name]
        if isinstance(model, SequentialModel):
            col = np.full(train.X.shape[0], np.nan)
            rows, raw = train_raw_rows(model, train)
            if rows.size:
                col[rows] = model.calibrator_.transform(raw)  # type: ignore[union-attr]
            cols.append(col)
        else:
            cols.append(model.score(batch).score)
    return np.column_stack(cols) if cols else np.zeros((train.X.shape[0], 0))


def math_inputs(profile: Profile, pack: RulePack, data: ProfileData) -> np.ndarray:
    train = data.train
    names = meta_math_names(profile, pack)
    if not profile.is_stream:
        fields = [dict(zip(train.feature_names, r, strict=True)) for r in train.X.tolist()]
        q = tabular_math(pack, fields)
        return np.array([[d[n] for n in names] for d in q], dtype=float).reshape(len(fields), len(names))
    assert profile.features is not None and train.row_stream is not None and train.row_pos is not None
    out = np.zeros((train.X.shape[0], len(names)))
    for sidx, series in enumerate(train.series):
        rows = np.where(train.row_stream == sidx)[0]
        pos = train.row_pos[rows]
        v, prev = series.values[pos], series.values[np.maximum(pos - 1, 0)]
        cols = {"abs_deviation": np.abs(v - profile.features.peg),
                "rate_of_change": np.where(prev != 0, v / np.where(prev != 0, prev, 1.0) - 1.0, 0.0)}
        out[rows] = np.column_stack([cols[n] for n in names])
    return out


@dataclass
class Stack:
    model: Any
    metrics: dict[str, Any]
    inputs: list[str]
    rows: np.ndarray  # training rows with out-of-fold classifier outputs
    Z: np.ndarray  # the meta inputs of those rows
    oof: np.ndarray  # out-of-fold classifier probabilities of every training row


def train_router(profile: Profile, data: ProfileData, fitted: dict[str, Any], stack: Stack | None,
                 data_dir: Path) -> Any:
    """Warm-start the router on replayed history: labelled rows (OOF), or labelled windows for ops."""
    from models.bandit_training import score_matrix, warm_start, window_labels

    full = data.train
    names = profile.models.all()
    others = [n for n in names if fitted[n].family != "classifier"]
    if stack is not None and full.y is not None:
        rows = _at_most(stack.rows, ROUTER_ROWS)
        oof, Z = stack.oof[rows], stack.Z[np.searchsorted(stack.rows, rows)]
        meta_prob = stack.model.predict(Z)
    else:
        labels = full.y.astype(float) if full.y is not None else window_labels(profile, full, data_dir)
        if labels is None:
            return None
        rows, oof, meta_prob = _at_most(np.arange(full.X.shape[0]), ROUTER_ROWS), None, None
    train = full.take(rows)
    y = train.y.astype(float) if train.y is not None else window_labels(profile, train, data_dir)
    assert y is not None
    S, R, fams = score_matrix(fitted, names, train, base_inputs(fitted, others, train), oof)
    return warm_start(profile, train, np.arange(rows.size), S, R, fams, names, y, meta_prob)


ROUTER_ROWS = 6000


def _at_most(rows: np.ndarray, n: int) -> np.ndarray:
    """An evenly spread, ordered subset (the warm start needs coverage, not every row)."""
    if rows.size <= n:
        return rows
    return rows[np.linspace(0, rows.size - 1, n).astype(int)]


@dataclass
class FeedbackRows:
    """Decisions labelled by feedback or review: their feature rows, outcomes and stored model outputs."""

    X: np.ndarray
    y: np.ndarray
    order: np.ndarray
    outputs: list[dict[str, Any]]


def feedback_rows(profile: Profile, data: ProfileData, registry: ModelRegistry) -> FeedbackRows | None:
    from store.bandit_repo import labelled_decisions

    rows = [r for r in labelled_decisions(registry.engine, profile.name)
            if len(r["outputs"]["replay"]["X"]) == len(data.train.feature_names)]
    if not rows:
        return None
    return FeedbackRows(X=np.array([r["outputs"]["replay"]["X"] for r in rows], dtype=float),
                        y=np.array([1 if r["outcome"] >= 0.5 else 0 for r in rows]),
                        order=np.array([r["event_ts"] or 0.0 for r in rows], dtype=float),
                        outputs=[r["outputs"] for r in rows])


def with_feedback(train: TrainingSet, extra: FeedbackRows | None) -> TrainingSet:
    """The classifiers' training set: the profile's data plus the labelled decisions (in time order)."""
    if extra is None or train.y is None:
        return train
    return TrainingSet(X=np.vstack([train.X, extra.X]), feature_names=train.feature_names,
                       y=np.concatenate([train.y, extra.y]),
                       order=None if train.order is None else np.concatenate([train.order, extra.order]),
                       val_from=train.val_from)


def _feedback_meta(extra: FeedbackRows, inputs: list[str], families: dict[str, str]) -> np.ndarray:
    """Meta inputs of labelled decisions from what they stored: classifier raw outputs, other scores, math."""
    Z = np.full((extra.y.size, len(inputs)), np.nan)
    for r, out in enumerate(extra.outputs):
        models = {m["name"]: m for m in out["models"]}
        q = out["replay"].get("q", {})
        for k, name in enumerate(inputs):
            m = models.get(name)
            if m is not None and m.get("score") is not None:
                Z[r, k] = m["raw"] if families.get(name) == "classifier" else m["score"]
            elif name in q and isinstance(q[name], (int, float)):
                Z[r, k] = q[name]
    return Z


def fit_meta(
    profile: Profile, pack: RulePack, data: ProfileData, fitted: dict[str, Any], extra: FeedbackRows | None = None,
    folds: int = 5,
) -> Stack:
    """Stack: out-of-fold classifier probabilities + detector/forecaster scores + math signals -> XGBoost."""
    train = data.train
    assert train.y is not None and profile.models.meta
    n = train.X.shape[0]
    order = np.argsort(train.order, kind="stable") if train.order is not None else np.arange(n)
    chunks = np.array_split(order, folds)
    clf_names = list(profile.models.classifiers)
    oof = np.full((n, len(clf_names)), np.nan)
    for j in range(1, folds):
        fit_idx, pred_idx = np.concatenate(chunks[:j]), chunks[j]
        if len(np.unique(train.y[fit_idx])) < 2:
            continue
        for c, name in enumerate(clf_names):
            fresh = create(name, profile.models.params.get(name))
            fresh._fit_estimator(train.X[fit_idx], train.y[fit_idx])
            oof[pred_idx, c] = fresh.raw_proba(train.X[pred_idx])
    other = [m for m in profile.models.all() if m not in clf_names]
    Z = np.column_stack([oof, base_inputs(fitted, other, train), math_inputs(profile, pack, data)])
    inputs = clf_names + other + meta_math_names(profile, pack)
    rows = np.where(~np.isnan(oof).all(axis=1))[0]
    assert train.y is not None
    sub = TrainingSet(X=Z[rows], feature_names=inputs, y=train.y[rows], order=train.order[rows] if
                      train.order is not None else None, val_from=train.val_from)
    if extra is not None and sub.order is not None:
        fams = {n: fitted[n].family for n in profile.models.all()}
        sub = TrainingSet(X=np.vstack([sub.X, _feedback_meta(extra, inputs, fams)]), feature_names=inputs,
                          y=np.concatenate([sub.y, extra.y]), order=np.concatenate([sub.order, extra.order]),
                          val_from=train.val_from)
    tr, va = sub.split()
    metrics: dict[str, Any] = {"oof_rows": int(rows.size)}
    assert sub.y is not None
    if len(np.unique(sub.y[tr])) == 2 and len(np.unique(sub.y[va])) == 2:
        probe = create(profile.models.meta).fit(TrainingSet(X=sub.X[tr], feature_names=inputs, y=sub.y[tr]))
        metrics.update(classification_metrics(sub.y[va], probe.predict(sub.X[va])))
        metrics["validation_rows"] = int(va.size)
    meta = create(profile.models.meta, profile.models.params.get(profile.models.meta)).fit(sub)
    return Stack(model=meta, metrics=metrics, inputs=inputs, rows=rows, Z=Z[rows], oof=oof)
