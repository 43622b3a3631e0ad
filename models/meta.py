"""XGBoost stacking meta-classifier over base-model scores and SLM signals; missing scores stay NaN."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import BaseModel, ScoringBatch, TrainingSet
from models.calibration import Calibrator, IdentityCalibrator
from models.fast_paths import FastXGB
from models.serialization import load_xgb, save_xgb


class StackingMetaClassifier(BaseModel):
    """Trained on out-of-fold base-model outputs; XGBoost treats a model that did not answer as missing."""

    name: ClassVar[str] = "xgb_stack"
    family: ClassVar[str] = "meta"
    artifact_format: ClassVar[str] = "xgboost-ubj"
    needs_labels: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.booster_: Any = None
        self.inputs_: list[str] = []

    def _check(self, data: TrainingSet) -> None:
        if data.y is None or len(np.unique(data.y)) < 2:
            raise ValueError("xgb_stack: needs labels with both classes")

    def _fit(self, data: TrainingSet) -> np.ndarray:
        import xgboost as xgb

        assert data.y is not None
        self.inputs_ = list(data.feature_names)
        clf = xgb.XGBClassifier(
            n_estimators=int(self.params.get("n_estimators", 150)),
            max_depth=int(self.params.get("max_depth", 3)),
            learning_rate=float(self.params.get("learning_rate", 0.05)),
            subsample=0.9,
            min_child_weight=2.0,
            tree_method="hist",
            n_jobs=2,
            random_state=7,
        ).fit(data.X, data.y)
        self.booster_ = clf.get_booster()
        self.booster_.set_param({"nthread": 1})
        self.fast_ = FastXGB(self.booster_)
        return self.predict(data.X)

    def _calibrate(self, reference: np.ndarray, data: TrainingSet) -> Calibrator:
        return IdentityCalibrator()  # logistic objective without re-weighting: already a probability

    def predict(self, Z: np.ndarray) -> np.ndarray:
        return self.fast_.predict(Z)

    def raw_score(self, batch: ScoringBatch) -> np.ndarray:
        return self.predict(batch.X)

    def _save(self, directory: Path) -> dict[str, Any]:
        save_xgb(self.booster_, directory / "booster.ubj")
        return {"files": ["booster.ubj"], "inputs": self.inputs_}

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        self.inputs_ = list(meta["inputs"])
        self.booster_ = load_xgb(directory / "booster.ubj")
        self.booster_.set_param({"nthread": 1})
        self.fast_ = FastXGB(self.booster_)
