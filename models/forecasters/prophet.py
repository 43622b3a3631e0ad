"""Prophet forecaster: fitted per stream by Prophet; predictions evaluated from its parameters in numpy."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import Extras, SeriesData
from models.forecasters.base import LocalForecaster

logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "plotly missing": plots are not used


def _fourier(ts: np.ndarray, period_days: float, order: int) -> np.ndarray:
    t = ts / 86400.0 * 2 * np.pi
    cols = np.empty((ts.size, 2 * order))
    for i in range(order):
        c = (i + 1) / period_days * t
        cols[:, 2 * i] = np.sin(c)
        cols[:, 2 * i + 1] = np.cos(c)
    return cols


def compact_predict(local: dict[str, Any], ts: np.ndarray) -> np.ndarray:
    """Prophet's yhat (linear growth, additive seasonalities) at epoch-second timestamps.

    Same arithmetic as Prophet.predict (piecewise-linear trend plus Fourier seasonal terms, scaled by
    y_scale) without pandas, so one point costs microseconds; tests check it against Prophet.predict.
    """
    ts = np.asarray(ts, dtype=float)
    t = (ts - local["start"]) / local["t_scale"]
    cps = np.asarray(local["changepoints_t"], dtype=float)
    deltas = np.asarray(local["deltas"], dtype=float)
    if local.get("growth", "linear") == "flat":
        trend = np.full(ts.size, local["m"])
    else:
        on = (cps[None, :] <= t[:, None]) * deltas
        trend = (on.sum(axis=1) + local["k"]) * t + (on * -cps).sum(axis=1) + local["m"]
    seasonal = np.zeros(ts.size)
    beta = np.asarray(local["beta"], dtype=float)
    col = 0
    for s in local["seasonalities"]:
        width = 2 * s["order"]
        seasonal += _fourier(ts, s["period"], s["order"]) @ beta[col : col + width]
        col += width
    return (trend + seasonal) * local["y_scale"]


class ProphetModel(LocalForecaster):
    name: ClassVar[str] = "prophet"
    artifact_format: ClassVar[str] = "prophet-json"

    def _build(self, ts: np.ndarray) -> Any:
        from prophet import Prophet

        step = float(np.median(np.diff(ts))) if ts.size > 2 else 86400.0
        span_days = float(ts[-1] - ts[0]) / 86400.0 if ts.size > 1 else 0.0
        return Prophet(
            growth=self.params.get("growth", "flat"),
            scaling="absmax",
            uncertainty_samples=0,
            daily_seasonality=bool(step < 86400 and span_days >= 2),
            weekly_seasonality=bool(span_days >= 14),
            yearly_seasonality=False,
            changepoint_prior_scale=float(self.params.get("changepoint_prior_scale", 0.05)),
        )

    def fit_prophet(self, u: np.ndarray, ts: np.ndarray) -> Any:
        import pandas as pd

        model = self._build(ts)
        df = pd.DataFrame({"ds": pd.to_datetime(ts, unit="s"), "y": u})
        model.fit(df)
        return model

    def fit_local(self, u: np.ndarray, ts: np.ndarray, season: int) -> dict[str, Any] | None:
        if u.size < 20:
            return None
        try:
            model = self.fit_prophet(u, ts)
        except (RuntimeError, ValueError):
            return None
        self._last_model = model
        local = self.compact(model)
        local["sigma"] = max(float(np.std(u - compact_predict(local, ts))), 1e-6 + 1e-3 * float(np.std(u)))
        return local

    @staticmethod
    def compact(model: Any) -> dict[str, Any]:
        return {
            "growth": str(model.growth),
            "start": float(model.start.timestamp()),
            "t_scale": float(model.t_scale.total_seconds()),
            "y_scale": float(model.y_scale),
            "k": float(np.nanmean(model.params["k"])),
            "m": float(np.nanmean(model.params["m"])),
            "deltas": np.nanmean(model.params["delta"], axis=0).tolist(),
            "changepoints_t": np.asarray(model.changepoints_t, dtype=float).tolist(),
            "beta": np.nanmean(model.params["beta"], axis=0).tolist(),
            "seasonalities": [
                {"name": n, "period": float(p["period"]), "order": int(p["fourier_order"])}
                for n, p in model.seasonalities.items()
            ],
        }

    def fit_series(self, series: SeriesData) -> tuple[np.ndarray, dict[str, float], dict[str, Any]] | None:
        out = super().fit_series(series)
        if out is not None:
            from prophet.serialize import model_to_json

            self.prophet_json_ = getattr(self, "prophet_json_", {})
            self.prophet_json_[series.name] = model_to_json(self._last_model)
        return out

    def initial_state(self, local: dict[str, Any]) -> dict[str, Any]:
        return {"bias": 0.0}

    def run(
        self, local: dict[str, Any], state: dict[str, Any], u: np.ndarray, ts: np.ndarray
    ) -> tuple[np.ndarray, Extras | None, dict[str, Any]]:
        """Prophet's curve plus an online level correction: an EWMA of its recent residuals."""
        base = compact_predict(local, ts)
        rate = float(self.params.get("bias_rate", 0.3))
        bias = state["bias"]
        yhat = np.empty(u.size)
        for i, (b, x) in enumerate(zip(base.tolist(), u.tolist(), strict=True)):
            yhat[i] = b + bias
            bias += rate * (x - b - bias)
        raw, extras = self.step_errors(u, yhat, local["sigma"])
        return raw, extras, {"bias": bias}

    def forecast_ahead(
        self, local: dict[str, Any], state: dict[str, Any], ts_future: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        mean = compact_predict(local, ts_future) + state.get("bias", 0.0)
        return mean, np.full(ts_future.size, local["sigma"])

    def _save(self, directory: Path) -> dict[str, Any]:
        meta = super()._save(directory)
        files = []
        for stream, text in sorted(getattr(self, "prophet_json_", {}).items()):
            name = f"prophet_{stream}.json"
            (directory / name).write_text(text)
            files.append(name)
        meta["files"] = files
        return meta

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        super()._load(directory, meta)
        self.prophet_files_ = list(meta.get("files", []))
