"""Point forecasts and prediction intervals per forecaster and for their ensemble, from a stream's fit."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.bundle import ModelBundle
from models.forecasters.base import LocalForecaster
from models.forecasters.lstm import LstmForecasterModel
from models.stream_fit import fit_stream
from models.stream_state import StreamFit, infer_step_and_season
from studio.errors import Conflict, ValidationFailed
from studio.profiles import Profile

Z80, Z95 = 1.2815515655446004, 1.959963984540054
MIN_HISTORY = 30


@dataclass
class ForecastInput:
    ts: np.ndarray  # the history's timestamps (epoch seconds), ascending
    values: np.ndarray
    fit: StreamFit
    states: dict[str, dict[str, Any]]


class FitCache:
    """Fits of caller-supplied histories, keyed by the history's hash: the same history is fitted once."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[StreamFit, dict[str, dict[str, Any]]]] = OrderedDict()

    def get_or_fit(self, profile: Profile, bundle: ModelBundle, ts: np.ndarray, values: np.ndarray) -> tuple[
            StreamFit, dict[str, dict[str, Any]]]:
        key = hashlib.sha256(profile.name.encode() + ts.tobytes() + values.tobytes() +
                             repr(sorted(bundle.versions.items())).encode()).hexdigest()
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        out = fit_stream(profile, bundle, ts, values, n_at_fit=int(values.size), version=1)
        self._items[key] = out
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return out


def from_history(profile: Profile, bundle: ModelBundle, ts: np.ndarray, values: np.ndarray,
                 cache: FitCache) -> ForecastInput:
    if values.size < MIN_HISTORY:
        raise ValidationFailed(f"history needs at least {MIN_HISTORY} points, got {values.size}")
    order = np.argsort(ts, kind="stable")
    ts, values = ts[order], values[order]
    if np.any(np.diff(ts) <= 0):
        raise ValidationFailed("history timestamps must be distinct")
    fit, states = cache.get_or_fit(profile, bundle, ts, values)
    return ForecastInput(ts=ts, values=values, fit=fit, states=states)


def from_stream(state: Any) -> ForecastInput:
    if state is None or state.n_seen == 0:
        raise Conflict("stream has not been seen; send events first or pass `history`")
    if state.fit is None:
        raise Conflict(f"stream is still warming up ({state.n_seen} points seen); pass `history` or wait")
    return ForecastInput(ts=state.ts.copy(), values=state.values.copy(), fit=state.fit,
                         states={k: dict(v) for k, v in state.model_state.items()})


def forecast(profile: Profile, bundle: ModelBundle, data: ForecastInput, horizon: int,
             models: list[str] | None = None) -> dict[str, Any]:
    """Per-model and ensemble forecasts (raw units) at the next `horizon` steps of the inferred spacing."""
    assert profile.features is not None
    step, season = infer_step_and_season(data.ts)
    if step <= 0:
        raise ValidationFailed("cannot infer the spacing of the timestamps")
    future = data.ts[-1] + step * np.arange(1, horizon + 1)
    fit = data.fit
    wanted = models or [n for n in profile.models.forecasters if n in bundle.models]
    unknown = [m for m in wanted if m not in profile.models.forecasters]
    if unknown:
        raise ValidationFailed(f"not forecasters of profile {profile.name!r}: {unknown}",
                               details={"forecasters": profile.models.forecasters})
    per_model: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for name in wanted:
        model = bundle.models.get(name)
        if model is None:
            skipped[name] = "not loaded"
            continue
        if isinstance(model, LocalForecaster):
            if name not in fit.local or name not in data.states:
                skipped[name] = "no fit for this stream"
                continue
            mean_u, sd_u = model.forecast_ahead(fit.local[name], data.states[name], future)
        elif isinstance(model, LstmForecasterModel):
            window = (data.values[-(profile.features.seq_len - 1):] - fit.mu) / fit.sd
            mean_u, sd_u = model.forecast_window(window, horizon)
        else:
            continue
        per_model[name] = _intervals(mean_u * fit.sd + fit.mu, sd_u * fit.sd, bundle.version_of(name))
    if not per_model:
        raise Conflict("no forecaster could forecast this stream", details=skipped)
    means = np.array([m["mean"] for m in per_model.values()])
    sds = np.array([m["sd"] for m in per_model.values()])
    ens_mean = means.mean(axis=0)
    ens_sd = np.sqrt(np.maximum((sds**2 + means**2).mean(axis=0) - ens_mean**2, 0.0))
    out_models = {n: _public(m) for n, m in per_model.items()}
    return {
        "profile": profile.name, "horizon": horizon, "step_seconds": step, "season": season,
        "timestamps": future.tolist(), "models": out_models,
        "ensemble": _public(_intervals(ens_mean, ens_sd, None), members=sorted(per_model)),
        "skipped": skipped, "history_points": int(data.values.size),
    }


def _intervals(mean: np.ndarray, sd: np.ndarray, version: str | None) -> dict[str, Any]:
    sd = np.maximum(sd, 0.0)
    return {"mean": mean, "sd": sd, "version": version, "lower_80": mean - Z80 * sd, "upper_80": mean + Z80 * sd,
            "lower_95": mean - Z95 * sd, "upper_95": mean + Z95 * sd}


def _public(m: dict[str, Any], members: list[str] | None = None) -> dict[str, Any]:
    out = {k: (np.round(v, 8).tolist() if isinstance(v, np.ndarray) else v) for k, v in m.items() if k != "sd"}
    if members is not None:
        out["members"] = members
    return out
