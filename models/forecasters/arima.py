"""Seasonal ARIMA(p, d, q)(0, 1, 0)_m forecaster: coefficients fitted by statsmodels, one-step filtering in
closed form; the seasonal difference is taken at the series' detected period (none when it shows none)."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from models.base import Extras
from models.forecasters.base import LocalForecaster
from models.seasonality import detect_periods, median_step


class ArimaModel(LocalForecaster):
    """statsmodels estimates (mu, phi, theta, sigma2) on the warm-up; the innovations recursion then
    scores each new point in microseconds, so nothing is refitted per request. With a detected period m
    (and d = 0) the ARMA part models the seasonal differences u_t - u_{t-m}."""

    name: ClassVar[str] = "arima"
    artifact_format: ClassVar[str] = "json"

    @property
    def order(self) -> tuple[int, int, int]:
        p, d, q = self.params.get("order", (2, 0, 1))
        return int(p), int(d), int(q)

    def fit_local(self, u: np.ndarray, ts: np.ndarray, season: int) -> dict[str, Any] | None:
        from statsmodels.tsa.arima.model import ARIMA

        p, d, q = self.order
        periods = detect_periods(u, median_step(ts)) if d == 0 and self.params.get("seasonal", True) else []
        m = periods[0] if periods else 0
        w = u[m:] - u[:-m] if m else u
        if w.size < max(20, 3 * (p + q + d)):
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = ARIMA(w, order=(p, d, q), trend="c" if d == 0 else "n").fit()
            except (ValueError, np.linalg.LinAlgError):
                return None
        params = dict(zip(res.model.param_names, np.asarray(res.params, dtype=float), strict=True))
        sigma = float(np.sqrt(max(params.get("sigma2", 0.0), 0.0)))
        return {
            "p": p, "d": d, "q": q, "m": m,
            "mu": float(params.get("const", 0.0)),
            "ar": [float(params[f"ar.L{i}"]) for i in range(1, p + 1)],
            "ma": [float(params[f"ma.L{i}"]) for i in range(1, q + 1)],
            "sigma": max(sigma, 1e-6 + 1e-3 * float(np.std(w))),
            "aic": float(res.aic),
        }

    def initial_state(self, local: dict[str, Any]) -> dict[str, Any]:
        return {"w": [local["mu"]] * local["p"], "e": [0.0] * local["q"], "last": None, "s": []}

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
        d, m = local["d"], local.get("m", 0)
        w_hist, e_hist, last = list(state["w"]), list(state["e"]), state["last"]
        seas = list(state.get("s", []))
        p, q = local["p"], local["q"]
        yhat = np.empty(u.size)
        for i, x in enumerate(u.tolist()):
            if m:
                if len(seas) < m:  # no value one period back yet: the last value stands in
                    yhat[i] = seas[-1] if seas else x
                    seas.append(x)
                    continue
                base = seas[-m]
                seas.append(x)
                if len(seas) > 2 * m:
                    del seas[:-m]
            else:
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
        return raw, extras, {"w": w_hist, "e": e_hist, "last": last, "s": seas[-m:] if m else []}

    def forecast_ahead(
        self, local: dict[str, Any], state: dict[str, Any], ts_future: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        h = ts_future.size
        m = local.get("m", 0)
        w_hist, e_hist = list(state["w"]), list(state["e"])
        seas = list(state.get("s", []))
        level = state["last"] if (local["d"] == 1 and state["last"] is not None) else 0.0
        mean = np.empty(h)
        for i in range(h):
            pred_w = self._predict_w(local, w_hist, e_hist)
            if m:
                base = seas[-m] if len(seas) >= m else (seas[-1] if seas else 0.0)
                mean[i] = base + pred_w
                seas.append(float(mean[i]))
            else:
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
        if m:  # (1 - B^m) integrated: psi*_j = psi_j + psi*_{j-m}
            for j in range(m, h):
                psi[j] += psi[j - m]
        sd = local["sigma"] * np.sqrt(np.cumsum(psi**2))
        return mean, sd
