"""Shared base for scikit-learn detectors: fit on a subsample, calibrate on held-out rows, skops artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import Detector, ScoringBatch, TrainingSet
from models.serialization import load_skops, save_skops


class SklearnDetector(Detector):
    """Template: _build() returns an unfitted estimator; raw score = -score_samples (higher = stranger)."""

    artifact_format: ClassVar[str] = "skops"
    max_fit_rows: ClassVar[int] = 20000

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.estimator_: Any = None

    def _build(self) -> Any:
        raise NotImplementedError

    def _fit(self, data: TrainingSet) -> np.ndarray:
        rng = np.random.default_rng(int(self.params.get("seed", 7)))
        n = data.X.shape[0]
        idx = rng.permutation(n)
        held = idx[: max(n // 5, 1)]
        fit_idx = idx[max(n // 5, 1) :][: int(self.params.get("max_fit_rows", self.max_fit_rows))]
        self.estimator_ = self._build().fit(data.X[fit_idx])
        self.scorer_ = self._compile()
        return self._raw(data.X[held])

    def _compile(self) -> Any:
        """An object with score_samples(X) equal to the estimator's (a faster exact path where we have one)."""
        return self.estimator_

    def _raw(self, X: np.ndarray) -> np.ndarray:
        return -np.asarray(self.scorer_.score_samples(X), dtype=float)

    def raw_score(self, batch: ScoringBatch) -> np.ndarray:
        return self._raw(batch.X)

    def _save(self, directory: Path) -> dict[str, Any]:
        save_skops(self.estimator_, directory / "estimator.skops")
        return {"files": ["estimator.skops"]}

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        self.estimator_ = load_skops(directory / "estimator.skops")
        self.scorer_ = self._compile()
