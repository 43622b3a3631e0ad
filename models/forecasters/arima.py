"""ARIMA(p, d, q) forecaster: coefficients fitted by statsmodels, one-step filtering in closed form."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from models.base import Extras
from models.forecasters.base import LocalForecaster


class ArimaModel(LocalForecaster):
    """statsmodels estimates (mu, phi, theta, sigma2) on the warm-up; the innovations recursion then
    scores each new point in microseconds, so nothing is refitted per request."""

    name: ClassVar[str] = "arima"
    artifact_format: ClassVar[str] = "json"

    @property
    def order(self) -> tuple[int, int, int]:
        p, d, q = self.params.get("order", (2, 0, 1))
        return int(p), int(d), int(q)

    def fit_local(self, u: np.ndarray, ts: np.ndarray, season: int) -> dict[str, Any] | None:
        from statsmodels.tsa.arima.model import ARIMA

        p, d, q = self.order
        if u.size < max(20, 3 * (p + q + d)):
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = ARIMA(u, order=(p, d, q), trend="c" if d == 0 else "n").fit()
            except (ValueError, np.linalg.LinAlgError):
                return None
        params = dict(zip(res.model.param_names, np.asarray(res.params, dtype=float), strict=True))
        sigma = float(np.sqrt(max(params.get("sigma2", 0.0), 0.0)))
        return {
            "p": p, "d": d, "q": q,
            "mu": float(params.get("const", 0.0)),
            "ar": [float(params[f"ar.L{i}"]) for i in range(1, p + 1)],
            "ma": [float(params[f"ma.L{i}"]) for i in range(1, q + 1)],
            "sigma": max(sigma, 1e-6 + 1e-3 * float(np.std(u))),
            "aic": float(res.aic),
        }

    def initial_state(self, local: dict[str, Any]) -> dict[str, Any]:
        return {"w": [local["mu"]] * local["p"], "e": [0.0] * local["q"], "last": None}

    def _predict_w(self, local: dict[str, Any], w_hist: list[float], e_hist: list[float]) -> float:
        mu = local["mu"]
        pred = mu
        for i, phi in enumerate(local["ar"]):
            pred += phi * (w_hist[-1 - i] - mu)
        for j, theta in enumerate(local["ma"]):
            pred += theta * e_hist[-1 - j]
        return pred

    def run(
        self, local: dict[str, Any], state: dict[str, Any], u: np.ndarray, ts: np.ndarray
    ) -> tuple[np.ndarray, Extras | None, dict[str, Any]]:
        d = local["d"]
        w_hist, e_hist, last = list(state["w"]), list(state["e"]), state["last"]
        p, q = local["p"], local["q"]
        yhat = np.empty(u.size)
        for i, x in enumerate(u.tolist()):
            base = last if (d == 1 and last is not None) else 0.0
            if d == 1 and last is None:
                yhat[i] = x
                last = x
                continue
            pred_w = self._predict_w(local, w_hist, e_hist)
            yhat[i] = pred_w + base
            w_t = x - base
            if p:
                w_hist = (w_hist + [w_t])[-p:]
            if q:
                e_hist = (e_hist + [w_t - pred_w])[-q:]
            last = x
        raw, extras = self.step_errors(u, yhat, local["sigma"])
        return raw, extras, {"w": w_hist, "e": e_hist, "last": last}

    def forecast_ahead(
        self, local: dict[str, Any], state: dict[str, Any], ts_future: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        h = ts_future.size
        w_hist, e_hist = list(state["w"]), list(state["e"])
        level = state["last"] if (local["d"] == 1 and state["last"] is not None) else 0.0
        mean = np.empty(h)
        for i in range(h):
            pred_w = self._predict_w(local, w_hist, e_hist)
            level = level + pred_w if local["d"] == 1 else pred_w
            mean[i] = level
            if local["p"]:
                w_hist = (w_hist + [pred_w])[-local["p"] :]
            if local["q"]:
                e_hist = (e_hist + [0.0])[-local["q"] :]
        psi = np.zeros(h)
        for j in range(h):
            psi[j] = 1.0 if j == 0 else (local["ma"][j - 1] if j - 1 < local["q"] else 0.0)
            for i, phi in enumerate(local["ar"], start=1):
                if j - i >= 0:
                    psi[j] += phi * psi[j - i]
        if local["d"] == 1:
            psi = np.cumsum(psi)
        sd = local["sigma"] * np.sqrt(np.cumsum(psi**2))
        return mean, sd
