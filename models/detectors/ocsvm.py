"""One-Class SVM detector (RBF kernel, scikit-learn), on standardized features."""

from __future__ import annotations

from typing import Any, ClassVar

from models.detectors.sklearn_base import SklearnDetector


class OneClassSVMModel(SklearnDetector):
    name: ClassVar[str] = "ocsvm"
    max_fit_rows: ClassVar[int] = 2000

    def _build(self) -> Any:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import OneClassSVM

        return make_pipeline(StandardScaler(), OneClassSVM(nu=float(self.params.get("nu", 0.05)), gamma="scale"))

    def _compile(self) -> Any:
        from models.fast_paths import FastOCSVM

        return FastOCSVM(self.estimator_)
