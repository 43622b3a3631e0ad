"""Isolation Forest detector (scikit-learn)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from models.detectors.sklearn_base import SklearnDetector
from models.forest import compile_isolation_forest, isolation_score_samples


class IsolationForestModel(SklearnDetector):
    name: ClassVar[str] = "isolation_forest"

    def _build(self) -> Any:
        from sklearn.ensemble import IsolationForest

        return IsolationForest(
            n_estimators=int(self.params.get("n_estimators", 100)),
            max_samples=min(256, int(self.params.get("max_samples", 256))),
            random_state=int(self.params.get("seed", 7)),
            n_jobs=1,
        )

    def _compile(self) -> Any:
        return _CompiledIsolationForest(*compile_isolation_forest(self.estimator_))


class _CompiledIsolationForest:
    def __init__(self, forest: Any, denominator: float) -> None:
        self.forest, self.denominator = forest, denominator

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        return isolation_score_samples(self.forest, self.denominator, X)
