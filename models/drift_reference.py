"""The training reference that live data is compared with for drift: per feature, the training rows' decile
edges and a sample; per model, a sample of its calibrated scores on the training rows (tabular profiles) or
"uniform" where serving ranks each score against its stream's own past (a causal rank is uniform on data like
the stream's history). Recorded in the pipeline artifact at training time (models/pipeline.py), so it is
versioned and verified with the models it describes."""

from __future__ import annotations

from typing import Any

import numpy as np

from models.base import ScoringBatch, TrainingSet

SAMPLE = 500  # values kept per feature / model for the two-sample KS test
DECILES = np.linspace(0.0, 1.0, 11)


def _sample(values: np.ndarray, rng: np.random.Generator) -> list[float]:
    v = values[np.isfinite(values)]
    if v.size > SAMPLE:
        v = rng.choice(v, SAMPLE, replace=False)
    return [round(float(x), 6) for x in np.sort(v)]


def build_reference(train: TrainingSet, models: dict[str, Any], *, causal: bool) -> dict[str, Any]:
    """What drift compares with. Deterministic (seeded), so a retrain on the same data records the same one."""
    rng = np.random.default_rng(0)
    features = {}
    for j, name in enumerate(train.feature_names):
        col = np.asarray(train.X[:, j], dtype=float)
        finite = col[np.isfinite(col)]
        if finite.size == 0:
            continue
        features[name] = {"edges": [round(float(e), 6) for e in np.quantile(finite, DECILES)],
                          "sample": _sample(finite, rng), "mean": round(float(finite.mean()), 6)}
    scores: dict[str, Any] = {}
    for name, model in models.items():
        if causal:
            scores[name] = {"kind": "uniform"}
            continue
        try:
            s = model.score(ScoringBatch(X=train.X, feature_names=list(train.feature_names)))
        except Exception:  # a model that scores only inside the graph (e.g. the stack): no reference
            continue
        ok = np.asarray(s.ready, dtype=bool)
        scores[name] = {"kind": "sample", "sample": _sample(np.asarray(s.score, dtype=float)[ok], rng)}
    return {"rows": int(train.X.shape[0]), "features": features, "scores": scores}
