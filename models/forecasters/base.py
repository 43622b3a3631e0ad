"""Shared forecaster behaviour: standardized one-step errors as the anomaly signal, MASE as the metric."""

from __future__ import annotations

from typing import Any

import numpy as np

from models.base import Extras, Forecaster, SeriesData
from models.sequential import SequentialModel


class LocalForecaster(SequentialModel, Forecaster):
    """A forecaster fitted per stream on its warm-up; raw score = |u - forecast| / sigma."""

    def series_metric(
        self, series: SeriesData, extras: Extras | None, raw: np.ndarray
    ) -> dict[str, float]:
        w = series.warmup
        actual = series.u[w:]
        predicted = extras["forecast_u"] if extras else np.array([])
        return {"mase": mase(actual, predicted, series.u[:w]), "mean_abs_z": float(np.mean(raw))}

    def step_errors(self, u: np.ndarray, yhat: np.ndarray, sigma: float) -> tuple[np.ndarray, Extras]:
        raw = np.abs(u - yhat) / sigma
        return raw, {"forecast_u": np.asarray(yhat, dtype=float), "sigma_u": np.full(len(yhat), float(sigma))}

    def forecast_ahead(
        self, local: dict[str, Any], state: dict[str, Any], ts_future: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation (normalized units) at each future timestamp."""
        raise NotImplementedError


def mase(actual: np.ndarray, predicted: np.ndarray, insample: np.ndarray) -> float:
    """Mean absolute scaled error against the in-sample one-step naive forecast."""
    if actual.size == 0 or predicted.size != actual.size:
        return float("nan")
    scale = float(np.mean(np.abs(np.diff(insample)))) if insample.size > 1 else 0.0
    if scale <= 0:
        scale = 1e-9
    return float(np.mean(np.abs(actual - predicted)) / scale)
