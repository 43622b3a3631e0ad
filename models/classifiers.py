"""Classifiers: logistic regression, random forest (scikit-learn) and XGBoost, each Platt-calibrated."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import Classifier
from models.fast_paths import FastXGB
from models.forest import compile_random_forest
from models.serialization import load_skops, load_xgb, save_skops, save_xgb


class SklearnClassifier(Classifier):
    """Shared persistence for scikit-learn estimators (skops, no pickle)."""

    artifact_format: ClassVar[str] = "skops"

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.estimator_: Any = None

    def raw_proba(self, X: np.ndarray) -> np.ndarray:
        return self.estimator_.predict_proba(X)[:, 1]

    def _save(self, directory: Path) -> dict[str, Any]:
        save_skops(self.estimator_, directory / "estimator.skops")
        return {"files": ["estimator.skops"]}

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        self.estimator_ = load_skops(directory / "estimator.skops")


class LogisticRegressionModel(SklearnClassifier):
    name: ClassVar[str] = "logreg"

    def _fit_estimator(self, X: np.ndarray, y: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.estimator_ = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=float(self.params.get("C", 1.0)), max_iter=2000, class_weight="balanced"),
        ).fit(X, y)
        self._linear()

    def _linear(self) -> None:
        """The fitted pipeline as one affine map: p = sigmoid(x . w + b) (exactly what predict_proba computes)."""
        scaler, lr = self.estimator_[0], self.estimator_[-1]
        self.w_ = lr.coef_[0] / scaler.scale_
        self.b_ = float(lr.intercept_[0] - np.dot(lr.coef_[0], scaler.mean_ / scaler.scale_))

    def raw_proba(self, X: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(np.asarray(X, dtype=float) @ self.w_ + self.b_)))

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        super()._load(directory, meta)
        self._linear()


class RandomForestModel(SklearnClassifier):
    name: ClassVar[str] = "random_forest"

    def _fit_estimator(self, X: np.ndarray, y: np.ndarray) -> None:
        from sklearn.ensemble import RandomForestClassifier

        self.estimator_ = RandomForestClassifier(
            n_estimators=int(self.params.get("n_estimators", 100)),
            max_depth=int(self.params.get("max_depth", 10)),
            min_samples_leaf=int(self.params.get("min_samples_leaf", 5)),
            class_weight="balanced_subsample",
            n_jobs=2,
            random_state=int(self.params.get("seed", 7)),
        ).fit(X, y)
        self.forest_ = compile_random_forest(self.estimator_)

    def raw_proba(self, X: np.ndarray) -> np.ndarray:
        return self.forest_.mean(X)[:, 1]

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        super()._load(directory, meta)
        self.forest_ = compile_random_forest(self.estimator_)


class XGBoostModel(Classifier):
    name: ClassVar[str] = "xgboost"
    artifact_format: ClassVar[str] = "xgboost-ubj"

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.booster_: Any = None

    def _fit_estimator(self, X: np.ndarray, y: np.ndarray) -> None:
        import xgboost as xgb

        pos = max(float(y.sum()), 1.0)
        clf = xgb.XGBClassifier(
            n_estimators=int(self.params.get("n_estimators", 200)),
            max_depth=int(self.params.get("max_depth", 4)),
            learning_rate=float(self.params.get("learning_rate", 0.08)),
            subsample=0.8,
            colsample_bytree=0.8,
            scale_pos_weight=(len(y) - pos) / pos,
            tree_method="hist",
            n_jobs=2,
            random_state=int(self.params.get("seed", 7)),
        ).fit(X, y)
        self.booster_ = clf.get_booster()
        self.booster_.set_param({"nthread": 1})
        self.fast_ = FastXGB(self.booster_)

    def raw_proba(self, X: np.ndarray) -> np.ndarray:
        return self.fast_.predict(X)

    def _save(self, directory: Path) -> dict[str, Any]:
        save_xgb(self.booster_, directory / "booster.ubj")
        return {"files": ["booster.ubj"]}

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        self.booster_ = load_xgb(directory / "booster.ubj")
        self.booster_.set_param({"nthread": 1})
        self.fast_ = FastXGB(self.booster_)
