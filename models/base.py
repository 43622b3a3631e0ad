"""Model families: protocols, the shared scoring batch, and base classes with template methods."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from models.calibration import Calibrator, EcdfCalibrator, calibrator_from_json


@dataclass
class TrainingSet:
    """What a profile's training produces for its models: time-ordered rows, optional labels, raw series."""

    X: np.ndarray
    feature_names: list[str]
    y: np.ndarray | None = None
    windows: np.ndarray | None = None  # normalized windows ending at (and including) each row
    series: list[SeriesData] = field(default_factory=list)
    row_stream: np.ndarray | None = None  # stream index of each row (stream profiles)
    row_pos: np.ndarray | None = None  # position of each row within its stream
    order: np.ndarray | None = None  # sort key: time for stream profiles, row id for tabular
    val_from: float | None = None  # rows with order >= val_from validate; None: the last 20% by order

    def take(self, idx: np.ndarray) -> TrainingSet:
        """The same training set restricted to rows idx (series are kept whole)."""
        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return TrainingSet(X=self.X[idx], feature_names=self.feature_names, y=pick(self.y), windows=pick(self.windows),
                           series=self.series, row_stream=pick(self.row_stream), row_pos=pick(self.row_pos),
                           order=pick(self.order), val_from=self.val_from)

    def split(self, fraction: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
        """Time-ordered (train, validation) row indices."""
        n = self.X.shape[0]
        order = np.argsort(self.order, kind="stable") if self.order is not None else np.arange(n)
        if self.val_from is not None and self.order is not None:
            late = self.order[order] >= self.val_from
            return order[~late], order[late]
        cut = int(n * fraction)
        return order[:cut], order[cut:]


@dataclass
class SeriesData:
    """One training stream: raw values, normalized values and timestamps (epoch seconds)."""

    name: str
    ts: np.ndarray
    values: np.ndarray
    u: np.ndarray
    warmup: int


@dataclass
class ScoringBatch:
    """Prepared inputs for one batch of events of one profile (rows in arrival order)."""

    X: np.ndarray
    feature_names: list[str]
    windows: np.ndarray | None = None  # normalized windows including the current point
    u: np.ndarray | None = None  # normalized current value
    values: np.ndarray | None = None
    ts: np.ndarray | None = None
    streams: list[str] = field(default_factory=list)
    states: dict[str, Any] = field(default_factory=dict)  # stream -> StreamState before this batch's points
    seen: np.ndarray | None = None  # points the stream has seen, including this one
    min_seen: int = 0  # window models answer from this many points on
    prev: np.ndarray | None = None  # raw value before each point
    win_mean: np.ndarray | None = None  # raw mean / std of the window before each point
    win_std: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.X.shape[0])


Extras = dict[str, np.ndarray]  # a detail's name -> one value per row of the batch


@dataclass
class ModelScores:
    """Raw and calibrated outputs of one model for every row of a batch."""

    raw: np.ndarray
    score: np.ndarray
    ready: np.ndarray  # False where the model cannot answer yet (warming up)
    extras: Extras | None = None  # per-row detail columns (NaN where a row has none)
    new_states: dict[str, dict[str, Any]] | None = None  # stream -> model state after these rows


RawScores = tuple[np.ndarray, np.ndarray, Extras | None, dict[str, dict[str, Any]] | None]


@runtime_checkable
class ScoringModel(Protocol):
    """What every model in the lineup offers the decision tools."""

    name: ClassVar[str]
    family: ClassVar[str]

    def fit(self, data: TrainingSet) -> ScoringModel: ...

    def score(self, batch: ScoringBatch) -> ModelScores: ...

    def save(self, directory: Path) -> dict[str, Any]: ...


class BaseModel:
    """Template: fit() validates, calls _fit(), then calibrates on the training output; score() maps raw->0..1."""

    name: ClassVar[str] = "base"
    family: ClassVar[str] = "base"
    artifact_format: ClassVar[str] = "json"
    needs_labels: ClassVar[bool] = False
    stream_only: ClassVar[bool] = False
    calibrate_per_stream: ClassVar[bool] = False  # a stream's warm-up may recalibrate this model
    window_based: ClassVar[bool] = True  # on streams: needs a full feature window before it answers

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)
        self.calibrator_: Calibrator | None = None
        self.metrics_: dict[str, Any] = {}

    # -- training -------------------------------------------------------------------------------------
    def fit(self, data: TrainingSet) -> BaseModel:
        self._check(data)
        reference = self._fit(data)
        self.calibrator_ = self._calibrate(reference, data)
        return self

    def _check(self, data: TrainingSet) -> None:
        if data.X.shape[0] < 10:
            raise ValueError(f"{self.name}: need at least 10 training rows, got {data.X.shape[0]}")
        if self.needs_labels and (data.y is None or len(np.unique(data.y)) < 2):
            raise ValueError(f"{self.name}: needs labels with both classes")
        if not np.all(np.isfinite(data.X)):
            raise ValueError(f"{self.name}: training features contain NaN or inf")

    def _fit(self, data: TrainingSet) -> np.ndarray:
        """Fit and return the raw training scores used as calibration reference."""
        raise NotImplementedError

    def _calibrate(self, reference: np.ndarray, data: TrainingSet) -> Calibrator:
        return EcdfCalibrator.fit(reference)

    # -- scoring --------------------------------------------------------------------------------------
    def score(self, batch: ScoringBatch) -> ModelScores:
        if self.calibrator_ is None:
            raise RuntimeError(f"{self.name} is not fitted")
        raw, ready, extras, new_states = self._score(batch)
        if self.window_based and batch.seen is not None:
            ready = ready & (batch.seen >= batch.min_seen)
        calibrated = self._calibrate_rows(raw, batch)
        return ModelScores(raw=raw, score=calibrated, ready=ready, extras=extras, new_states=new_states)

    def _score(self, batch: ScoringBatch) -> RawScores:
        """(raw scores, ready mask, per-row extras, new per-stream states) for the batch."""
        raw = self.raw_score(batch)
        return raw, np.ones(len(raw), dtype=bool), None, None

    def raw_score(self, batch: ScoringBatch) -> np.ndarray:
        raise NotImplementedError

    def _calibrate_rows(self, raw: np.ndarray, batch: ScoringBatch) -> np.ndarray:
        """Per-stream calibrators (fitted on a stream's warm-up) win over the global one."""
        assert self.calibrator_ is not None
        out = self.calibrator_.transform(raw)
        if self.calibrate_per_stream and batch.states and batch.streams:
            for stream in set(batch.streams):
                state = batch.states.get(stream)
                local = state.calibrator(self.name) if state is not None else None
                if local is not None:
                    rows = np.fromiter((s == stream for s in batch.streams), dtype=bool, count=len(raw))
                    out[rows] = local.transform(raw[rows])
        return out

    # -- persistence ----------------------------------------------------------------------------------
    def save(self, directory: Path) -> dict[str, Any]:
        """Write artifact files into directory; return the JSON-able metadata needed to load them."""
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"params": self.params, "calibrator": self.calibrator_.to_json() if self.calibrator_ else None}
        meta.update(self._save(directory))
        return meta

    def _save(self, directory: Path) -> dict[str, Any]:
        return {}

    @classmethod
    def load(cls, directory: Path, meta: dict[str, Any]) -> BaseModel:
        model = cls(**meta.get("params", {}))
        if meta.get("calibrator"):
            model.calibrator_ = calibrator_from_json(meta["calibrator"])
        model._load(directory, meta)
        return model

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        return None


class Classifier(BaseModel):
    """Supervised: learns P(incident) from features; calibrated by Platt scaling on a held-out slice."""

    family: ClassVar[str] = "classifier"
    needs_labels: ClassVar[bool] = True

    def _fit(self, data: TrainingSet) -> np.ndarray:
        assert data.y is not None
        fit_idx, cal_idx = data.split()
        if len(np.unique(data.y[cal_idx])) < 2 or len(np.unique(data.y[fit_idx])) < 2:
            raise ValueError(f"{self.name}: both classes must occur before and after the validation cut")
        self._fit_estimator(data.X[fit_idx], data.y[fit_idx])
        # Validate and calibrate on the later slice, then refit on every row for serving.
        self._cal_raw, self._cal_y = self.raw_proba(data.X[cal_idx]), data.y[cal_idx]
        self.metrics_ = classification_metrics(self._cal_y, self._cal_raw)
        self.metrics_.update({"train_rows": int(fit_idx.size), "validation_rows": int(cal_idx.size)})
        self._fit_estimator(data.X, data.y)
        return self._cal_raw

    def _calibrate(self, reference: np.ndarray, data: TrainingSet) -> Calibrator:
        from models.calibration import PlattCalibrator

        return PlattCalibrator.fit(self._cal_raw, self._cal_y)

    def raw_score(self, batch: ScoringBatch) -> np.ndarray:
        return self.raw_proba(batch.X)

    def _fit_estimator(self, X: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def raw_proba(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    return {
        "auc": round(float(roc_auc_score(y, p)), 4),
        "pr_auc": round(float(average_precision_score(y, p)), 4),
        "brier": round(float(brier_score_loss(y, np.clip(p, 0, 1))), 4),
        "positive_rate": round(float(np.mean(y)), 4),
    }


class Detector(BaseModel):
    """Unsupervised: higher raw score = more anomalous; calibrated by the ECDF of training scores."""

    family: ClassVar[str] = "detector"
    calibrate_per_stream: ClassVar[bool] = True


class Forecaster(BaseModel):
    """Predicts the next value of a stream; its anomaly signal is the standardized one-step error."""

    family: ClassVar[str] = "forecaster"
    stream_only: ClassVar[bool] = True

    def forecast(self, state: Any, horizon: int, step_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Point forecasts (normalized units) and their standard deviations for the next horizon steps."""
        raise NotImplementedError
