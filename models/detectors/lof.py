"""Local Outlier Factor in novelty mode (scikit-learn), on standardized features."""

from __future__ import annotations

from typing import Any, ClassVar

from models.detectors.sklearn_base import SklearnDetector


class LocalOutlierFactorModel(SklearnDetector):
    name: ClassVar[str] = "lof"
    max_fit_rows: ClassVar[int] = 2500

    def _build(self) -> Any:
        from sklearn.neighbors import LocalOutlierFactor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(
            StandardScaler(), LocalOutlierFactor(n_neighbors=int(self.params.get("n_neighbors", 20)), novelty=True)
        )

    def _compile(self) -> Any:
        from models.fast_paths import FastLOF

        return FastLOF(self.estimator_)
