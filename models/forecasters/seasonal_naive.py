"""Seasonal naive: the value one period ago, for the detected period that repeats best (naive without one)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from models.base import Extras
from models.forecasters.base import LocalForecaster
from models.seasonality import detect_periods, median_step


class SeasonalNaiveModel(LocalForecaster):
    """yhat_t = u_{t-m}. m is the detected period with the smallest in-sample error of that rule (1 when the
    series shows no period); sigma is the spread of those errors. The baseline every other forecaster must
    beat, and a member of the ensemble in its own right."""

    name: ClassVar[str] = "seasonal_naive"
    artifact_format: ClassVar[str] = "json"

    def fit_local(self, u: np.ndarray, ts: np.ndarray, season: int) -> dict[str, Any] | None:
        if u.size < 10 or not np.all(np.isfinite(u)):
            return None
        periods = detect_periods(u, median_step(ts))
        errs = {m: float(np.mean(np.abs(u[m:] - u[:-m]))) for m in periods}
        m = min(periods, key=lambda k: (errs[k], k)) if periods else 1
        diff = u[m:] - u[:-m]
        return {"m": int(m), "sigma": max(float(np.sqrt(np.mean(diff**2))), 1e-6 + 1e-3 * float(np.std(u)))}

    def initial_state(self, local: dict[str, Any]) -> dict[str, Any]:
        return {"buf": []}

    def run(
        self, local: dict[str, Any], state: dict[str, Any], u: np.ndarray, ts: np.ndarray
    ) -> tuple[np.ndarray, Extras | None, dict[str, Any]]:
        m = local["m"]
        buf = list(state["buf"]) + u.tolist()
        prev = len(state["buf"])
        yhat = np.empty(u.size)
        for i in range(u.size):
            j = prev + i - m
            yhat[i] = buf[j] if j >= 0 else (buf[prev + i - 1] if prev + i > 0 else 0.0)
        raw, extras = self.step_errors(u, yhat, local["sigma"])
        return raw, extras, {"buf": buf[-m:]}

    def forecast_ahead(
        self, local: dict[str, Any], state: dict[str, Any], ts_future: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        m, buf, h = local["m"], state["buf"], ts_future.size
        steps = np.arange(h)
        if len(buf) < m:
            last = buf[-1] if buf else 0.0
            return np.full(h, last), local["sigma"] * np.sqrt(steps + 1.0)
        mean = np.array([buf[-m + (k % m)] for k in steps])
        return mean, local["sigma"] * np.sqrt(steps // m + 1.0)
