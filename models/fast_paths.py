"""Exact numpy evaluations of fitted LOF, One-Class SVM and XGBoost models (same outputs as the libraries,
without their per-call overhead; tests compare both)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from models.forest import CompiledForest

LARGE_BATCH = 32  # from this many rows on, the libraries' own vectorized paths are faster


class FastLOF:
    """LocalOutlierFactor(novelty=True).score_samples after a StandardScaler, by brute-force neighbours
    (scikit-learn's KD-tree takes over for large batches)."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        scaler, lof = pipeline[0], pipeline[-1]
        self.mean, self.scale = scaler.mean_, scaler.scale_
        self.fit_X = np.asarray(lof._fit_X, dtype=float)
        self.k = int(lof.n_neighbors_)
        self.k_dist = np.asarray(lof._distances_fit_X_[:, self.k - 1], dtype=float)
        self.lrd = np.asarray(lof._lrd, dtype=float)
        self.sq = (self.fit_X**2).sum(axis=1)

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        if X.shape[0] >= LARGE_BATCH:
            return np.asarray(self.pipeline.score_samples(X), dtype=float)
        Z = (np.asarray(X, dtype=float) - self.mean) / self.scale
        d2 = np.maximum((Z**2).sum(axis=1)[:, None] + self.sq[None, :] - 2.0 * Z @ self.fit_X.T, 0.0)
        idx = np.argpartition(d2, self.k - 1, axis=1)[:, : self.k]
        # exact distances for the chosen neighbours (the expansion above is only used to find them)
        dist = np.sqrt(((Z[:, None, :] - self.fit_X[idx]) ** 2).sum(axis=2))
        reach = np.maximum(dist, self.k_dist[idx])
        lrd_x = 1.0 / (reach.mean(axis=1) + 1e-10)
        return -(self.lrd[idx] / lrd_x[:, None]).mean(axis=1)


class FastOCSVM:
    """OneClassSVM(kernel='rbf').score_samples after a StandardScaler."""

    def __init__(self, pipeline: Any) -> None:
        scaler, svm = pipeline[0], pipeline[-1]
        self.mean, self.scale = scaler.mean_, scaler.scale_
        self.sv = np.asarray(svm.support_vectors_, dtype=float)
        self.coef = np.asarray(svm.dual_coef_[0], dtype=float)
        self.gamma = float(svm._gamma)
        self.intercept = float(svm.intercept_[0])
        self.offset = float(svm.offset_[0])
        self.sq = (self.sv**2).sum(axis=1)

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, dtype=float) - self.mean) / self.scale
        d2 = np.maximum((Z**2).sum(axis=1)[:, None] + self.sq[None, :] - 2.0 * Z @ self.sv.T, 0.0)
        decision = np.exp(-self.gamma * d2) @ self.coef + self.intercept
        return decision + self.offset


class FastXGB:
    """A binary:logistic XGBoost booster as a compiled forest: sigmoid(sum of leaves + base margin)."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster
        model = json.loads(booster.save_raw("json"))
        learner = model["learner"]
        objective = learner["objective"]["name"]
        if objective != "binary:logistic":
            raise ValueError(f"unsupported objective {objective}")
        trees = learner["gradient_booster"]["model"]["trees"]
        base = learner["learner_model_param"]["base_score"]
        base_p = float(json.loads(base)[0]) if base.startswith("[") else float(base)
        self.margin0 = float(np.log(base_p / (1.0 - base_p)))
        self.forest = CompiledForest.from_arrays(
            [np.asarray(t["split_indices"], dtype=np.intp) for t in trees],
            [np.asarray(t["split_conditions"], dtype=float) for t in trees],
            [np.asarray(t["left_children"], dtype=np.intp) for t in trees],
            [np.asarray(t["right_children"], dtype=np.intp) for t in trees],
            [np.asarray(t["base_weights"], dtype=float) for t in trees],
            [np.asarray(t["default_left"], dtype=bool) for t in trees],
            strict_less=True,
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        if X.shape[0] >= 2 * LARGE_BATCH:
            return np.asarray(self.booster.inplace_predict(np.ascontiguousarray(X, dtype=np.float32)), dtype=float)
        margin = self.forest.sum(np.asarray(X, dtype=float)).ravel() + self.margin0
        return 1.0 / (1.0 + np.exp(-margin))
