"""Isolation Forest detector (scikit-learn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import TrainingSet
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

    def _fit(self, data: TrainingSet) -> np.ndarray:
        self._compiled = None
        return super()._fit(data)

    def _raw(self, X: np.ndarray) -> np.ndarray:
        if getattr(self, "_compiled", None) is None:
            self._compiled = compile_isolation_forest(self.estimator_)
        forest, denominator = self._compiled
        return -isolation_score_samples(forest, denominator, X)

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        super()._load(directory, meta)
        self._compiled = compile_isolation_forest(self.estimator_)
