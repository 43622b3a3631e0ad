"""ETS (Holt-Winters, additive damped trend, additive seasonality) fitted by statsmodels, filtered here."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from models.base import Extras
from models.forecasters.base import LocalForecaster


class EtsModel(LocalForecaster):
    """The component-form recursion below reproduces statsmodels' fitted values exactly (tested)."""

    name: ClassVar[str] = "ets"
    artifact_format: ClassVar[str] = "json"

    def fit_local(self, u: np.ndarray, ts: np.ndarray, season: int) -> dict[str, Any] | None:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        if u.size < 20:
            return None
        seasonal = season if season >= 2 and u.size >= 2 * season + 10 else 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = ExponentialSmoothing(
                    u,
                    trend="add",
                    damped_trend=True,
                    seasonal="add" if seasonal else None,
                    seasonal_periods=seasonal or None,
                    initialization_method="estimated" if seasonal <= 64 else "heuristic",
                ).fit()
            except (ValueError, np.linalg.LinAlgError):
                return None
        p = res.params
        resid = u - np.asarray(res.fittedvalues)
        local = {
            "alpha": float(p["smoothing_level"]),
            "beta": float(np.nan_to_num(p["smoothing_trend"])),
            "gamma": float(np.nan_to_num(p["smoothing_seasonal"])) if seasonal else 0.0,
            "phi": float(np.nan_to_num(p["damping_trend"], nan=1.0)),
            "m": seasonal,
            "l0": float(p["initial_level"]),
            "b0": float(np.nan_to_num(p["initial_trend"])),
            "s0": [float(x) for x in np.atleast_1d(p["initial_seasons"])] if seasonal else [],
            "sigma": max(float(np.std(resid)), 1e-6 + 1e-3 * float(np.std(u))),
        }
        return local

    def initial_state(self, local: dict[str, Any]) -> dict[str, Any]:
        return {"l": local["l0"], "b": local["b0"], "s": list(local["s0"])}

    def run(
        self, local: dict[str, Any], state: dict[str, Any], u: np.ndarray, ts: np.ndarray
    ) -> tuple[np.ndarray, Extras | None, dict[str, Any]]:
        a, b, g, phi, m = local["alpha"], local["beta"], local["gamma"], local["phi"], local["m"]
        lvl, trend, seas = state["l"], state["b"], list(state["s"])
        yhat = np.empty(u.size)
        for i, x in enumerate(u.tolist()):
            st = seas[-m] if m else 0.0
            yhat[i] = lvl + phi * trend + st
            new_l = a * (x - st) + (1 - a) * (lvl + phi * trend)
            new_b = b * (new_l - lvl) + (1 - b) * phi * trend
            if m:
                seas.append(g * (x - lvl - phi * trend) + (1 - g) * st)
                if len(seas) > 2 * m:
                    seas = seas[-m:]
            lvl, trend = new_l, new_b
        raw, extras = self.step_errors(u, yhat, local["sigma"])
        return raw, extras, {"l": lvl, "b": trend, "s": seas[-m:] if m else []}

    def forecast_ahead(
        self, local: dict[str, Any], state: dict[str, Any], ts_future: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        h = ts_future.size
        phi, m = local["phi"], local["m"]
        steps = np.arange(1, h + 1)
        damp = np.cumsum(phi**steps)
        seas = np.array([state["s"][-m + ((k - 1) % m)] for k in steps]) if m else np.zeros(h)
        mean = state["l"] + damp * state["b"] + seas
        a, b = local["alpha"], local["beta"]
        # Variance of the additive damped-trend model (Hyndman et al. 2008, class 1), ignoring seasonality.
        cj = a * (1 + b * np.cumsum(phi ** np.arange(1, h)))  # c_j, j = 1..h-1
        var = local["sigma"] ** 2 * (1 + np.concatenate([[0.0], np.cumsum(cj**2)]))
        return mean, np.sqrt(var)
