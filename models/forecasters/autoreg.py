"""Seasonal autoregression: lags at one step and around each detected period, fitted by statsmodels' AutoReg."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from models.base import Extras
from models.forecasters.base import LocalForecaster
from models.seasonality import detect_periods, median_step

SHORT_LAGS = (1, 2, 3)


def seasonal_lags(periods: list[int], n: int) -> list[int]:
    """1..3, then p-1, p, p+1 for every period p and 2p for the shortest one; lags the history can carry only."""
    lags = set(SHORT_LAGS)
    for p in periods:
        lags.update((p - 1, p, p + 1))
    if periods:
        lags.add(2 * min(periods))
    return sorted(lag for lag in lags if 1 <= lag <= n // 3)


class AutoRegModel(LocalForecaster):
    """u_t = c + sum_l a_l u_{t-l} + e_t over the lags above, least squares (conditional MLE) on the warm-up.

    The state is the last max(lag) points, so a one-step forecast and its update are one dot product; the
    h-step variance comes from the model's psi weights. Without a detected period it is a plain AR(3).
    """

    name: ClassVar[str] = "autoreg"
    artifact_format: ClassVar[str] = "json"

    def fit_local(self, u: np.ndarray, ts: np.ndarray, season: int) -> dict[str, Any] | None:
        from statsmodels.tsa.ar_model import AutoReg

        if u.size < 20 or not np.all(np.isfinite(u)):
            return None
        periods = detect_periods(u, median_step(ts))
        lags = seasonal_lags(periods, u.size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = AutoReg(u, lags=lags, trend="c").fit()
            except (ValueError, np.linalg.LinAlgError):
                return None
        params = np.asarray(res.params, dtype=float)
        if not np.all(np.isfinite(params)):
            return None
        return {
            "lags": lags, "const": float(params[0]), "coef": [float(c) for c in params[1:]], "periods": periods,
            "sigma": max(float(np.sqrt(max(res.sigma2, 0.0))), 1e-6 + 1e-3 * float(np.std(u))),
        }

    def initial_state(self, local: dict[str, Any]) -> dict[str, Any]:
        return {"buf": []}

    @staticmethod
    def _predict(local: dict[str, Any], buf: list[float]) -> float:
        if len(buf) < local["lags"][-1]:
            return buf[-1] if buf else 0.0
        pred = local["const"]
        for lag, c in zip(local["lags"], local["coef"], strict=True):
            pred += c * buf[-lag]
        return pred

    def run(
        self, local: dict[str, Any], state: dict[str, Any], u: np.ndarray, ts: np.ndarray
    ) -> tuple[np.ndarray, Extras | None, dict[str, Any]]:
        keep = local["lags"][-1]
        prev = len(state["buf"])
        arr = np.concatenate([np.asarray(state["buf"], dtype=float), u])
        pos = np.arange(prev, arr.size)  # each new point's index; its lags are earlier points, all observed
        if prev >= keep:  # the common case: every lag is in the buffer or the batch
            yhat = np.full(u.size, local["const"])
            for lag, c in zip(local["lags"], local["coef"], strict=True):
                yhat += c * arr[pos - lag]
        else:
            buf = list(state["buf"])
            yhat = np.empty(u.size)
            for i, x in enumerate(u.tolist()):
                yhat[i] = self._predict(local, buf)
                buf.append(x)
        raw, extras = self.step_errors(u, yhat, local["sigma"])
        return raw, extras, {"buf": arr[-keep:].tolist()}

    def forecast_ahead(
        self, local: dict[str, Any], state: dict[str, Any], ts_future: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        h = ts_future.size
        buf = list(state["buf"])
        mean = np.empty(h)
        for i in range(h):
            mean[i] = self._predict(local, buf)
            buf.append(float(mean[i]))
        psi = np.zeros(h)
        psi[0] = 1.0
        for j in range(1, h):
            psi[j] = sum(c * psi[j - lag] for lag, c in zip(local["lags"], local["coef"], strict=True) if lag <= j)
        return mean, local["sigma"] * np.sqrt(np.cumsum(psi**2))
