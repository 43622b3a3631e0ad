"""Offline warm start of the router from replayed training history, with its offline evaluation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.profiles import Profile
from models.bandit import RouterState, context_matrix, off_policy_evaluation
from models.base import TrainingSet
from models.sequential import SequentialModel, train_raw_rows

FAMILIES = ("classifier", "detector", "forecaster")


def window_labels(profile: Profile, train: TrainingSet, data_dir: Path) -> np.ndarray | None:
    """Incident labels for unlabelled stream profiles from labelled windows (e.g. NAB's), when configured."""
    spec = profile.router.warm_start_windows
    if spec is None or train.row_stream is None or train.order is None:
        return None
    windows = json.loads((data_dir / spec).read_text())
    y = np.zeros(train.X.shape[0])
    for sidx, src in enumerate(profile.training):
        key = src.path.split("/data/", 1)[-1] if "/data/" in src.path else src.path
        for start, end in windows.get(key, []):
            a, b = pd.Timestamp(start, tz="UTC").timestamp(), pd.Timestamp(end, tz="UTC").timestamp()
            rows = (train.row_stream == sidx) & (train.order >= a) & (train.order <= b)
            y[rows] = 1.0
    return y


def score_matrix(fitted: dict[str, Any], names: list[str], train: TrainingSet, base: np.ndarray,
                 clf_raw: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Calibrated score and raw output of every base model per training row (NaN where it could not answer)."""
    cols, raws, fams = [], [], []
    k = 0
    clf_names = [n for n in names if fitted[n].family == "classifier"]
    for name in names:
        model = fitted[name]
        fams.append(model.family)
        if model.family == "classifier":
            raw = clf_raw[:, clf_names.index(name)] if clf_raw is not None else model.raw_proba(train.X)
            cols.append(np.where(np.isnan(raw), np.nan, model.calibrator_.transform(np.nan_to_num(raw))))
            raws.append(raw)
        else:
            cols.append(base[:, k])
            raws.append(_raw_of(model, train, base[:, k]))
            k += 1
    return np.column_stack(cols), np.column_stack(raws), fams


def _raw_of(model: Any, train: TrainingSet, calibrated: np.ndarray) -> np.ndarray:
    """Forecasters' raw output (|z|) for the context's forecast-error feature."""
    if model.family != "forecaster":
        return calibrated
    if isinstance(model, SequentialModel):
        out = np.full(train.X.shape[0], np.nan)
        rows, raw = train_raw_rows(model, train)
        out[rows] = raw
        return out
    from models.base import ScoringBatch

    return model.score(ScoringBatch(X=train.X, feature_names=train.feature_names, windows=train.windows)).raw


def arm_scores(profile: Profile, S: np.ndarray, fams: list[str], names: list[str],
               meta_prob: np.ndarray | None) -> dict[str, np.ndarray]:
    out = {}
    for arm, members in profile.router.arms.items():
        if "meta" in members:
            out[arm] = meta_prob if meta_prob is not None else np.full(S.shape[0], np.nan)
            continue
        cols = np.array([n in members or f in members for n, f in zip(names, fams, strict=True)])
        out[arm] = _row_nanmean(np.where(cols, S, np.nan), empty=np.nan)
    return out


def _row_nanmean(M: np.ndarray, empty: float = 0.0) -> np.ndarray:
    ok = np.isfinite(M)
    count = ok.sum(axis=1)
    return np.where(count > 0, np.where(ok, M, 0.0).sum(axis=1) / np.maximum(count, 1), empty)


def warm_start(profile: Profile, train: TrainingSet, rows: np.ndarray, S: np.ndarray, R: np.ndarray,
               fams: list[str], names: list[str], y: np.ndarray, meta_prob: np.ndarray | None) -> RouterState:
    """Fit LinUCB on the earlier 70% of rows (every arm's reward is known offline), evaluate on the rest."""
    fam = np.array(fams)
    novelty = _row_nanmean(np.where(fam == "detector", S, np.nan))
    fc_err = _row_nanmean(np.where(fam == "forecaster", R, np.nan))
    X = context_matrix(X=train.X[rows], feature_names=train.feature_names, ts=None if not profile.is_stream else
                       train.order[rows] if train.order is not None else None,
                       peg_scaled=profile.is_stream and profile.features is not None and
                       profile.features.normalize == "peg", novelty=novelty, forecast_error=fc_err)
    scores = arm_scores(profile, S, fams, names, meta_prob)
    rewards = {a: 1.0 - np.abs(s - y) for a, s in scores.items()}
    order = np.argsort(train.order[rows] if train.order is not None else np.arange(rows.size), kind="stable")
    cut = int(0.7 * order.size)
    fit_idx, val_idx = order[:cut], order[cut:]
    router = RouterState(list(profile.router.arms), alpha=profile.router.alpha, epsilon=profile.router.epsilon)
    router.warm_start(X[fit_idx], {a: r[fit_idx] for a, r in rewards.items()})
    router.metrics_ = evaluate(router, X[val_idx], {a: r[val_idx] for a, r in rewards.items()}, S[val_idx],
                               names, y[val_idx])
    router.warm_start(X[val_idx], {a: r[val_idx] for a, r in rewards.items()})  # then learn from every row
    router.metrics_["warm_start_rows"] = int(rows.size)
    return router


def evaluate(router: RouterState, X: np.ndarray, rewards: dict[str, np.ndarray], S: np.ndarray, names: list[str],
             y: np.ndarray) -> dict[str, Any]:
    """Off-policy evaluation on held-out rows logged by a uniform policy (IPS/SNIPS), as the API reports it."""
    rng = np.random.default_rng(0)
    arms = router.arms
    logs = []
    for i in range(X.shape[0]):
        a = arms[int(rng.integers(len(arms)))]
        if not np.isfinite(rewards[a][i]):
            continue
        logs.append({"context": X[i].tolist(), "arm": a, "propensity": 1.0 / len(arms), "reward": float(rewards[a][i]),
                     "outcome": float(y[i]),
                     "model_scores": {n: float(S[i, j]) for j, n in enumerate(names) if np.isfinite(S[i, j])}})
    report = off_policy_evaluation(logs, router)
    report["arm_mean_reward"] = {a: round(float(np.nanmean(r)), 4) for a, r in rewards.items()}
    return report
