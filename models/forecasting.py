"""The forecasting service: every forecaster fitted on the history, weighted by a time-ordered validation
window, with intervals scaled by the errors seen there. The API, the CLI, chat and bench.forecasts use it."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import Conflict, ValidationFailed
from core.profiles import Profile
from models.bundle import ModelBundle
from models.datasets import fitted_normalization
from models.forecasters.base import LocalForecaster
from models.forecasters.lstm import LstmForecasterModel
from models.forecasters.seasonal_naive import SeasonalNaiveModel
from models.seasonality import detect_periods, median_step, primary_season

log = logging.getLogger(__name__)

Z80, Z95 = 1.2815515655446004, 1.959963984540054
MIN_HISTORY = 30
BASELINE = "seasonal_naive"  # always a member (fitted per history, nothing to train); worse than it: no weight
K_BOUNDS = (0.3, 10.0)  # how far the validation errors may rescale a model's own interval width


@dataclass(frozen=True)
class History:
    ts: np.ndarray  # epoch seconds, ascending, distinct
    values: np.ndarray


def history_from_points(ts: np.ndarray, values: np.ndarray) -> History:
    ts, values = np.asarray(ts, dtype=float), np.asarray(values, dtype=float)
    if values.size < MIN_HISTORY:
        raise ValidationFailed(f"history needs at least {MIN_HISTORY} points, got {values.size}")
    if not (np.all(np.isfinite(values)) and np.all(np.isfinite(ts))):
        raise ValidationFailed("history values and timestamps must be finite")
    order = np.argsort(ts, kind="stable")
    ts, values = ts[order], values[order]
    if np.any(np.diff(ts) <= 0):
        raise ValidationFailed("history timestamps must be distinct")
    return History(ts=ts, values=values)


def history_from_stream(state: Any) -> History:
    """The stream's stored window (a copy), as the history to forecast from."""
    if state is None or state.n_seen == 0:
        raise Conflict("stream has not been seen; send events first or pass `history`")
    if state.values.size < MIN_HISTORY:
        raise Conflict(f"stream has {state.values.size} points; a forecast needs {MIN_HISTORY} (or pass `history`)")
    return History(ts=state.ts.copy(), values=state.values.copy())


def validation_points(n: int, horizon: int) -> int:
    """Length of the validation window at the end of the history: the horizon, at most a quarter of it, and
    0 when what is left would be too short to fit on."""
    v = min(horizon, n // 4)
    return v if v >= 2 and n - v >= MIN_HISTORY else 0


def member_forecast(model: Any, profile: Profile, u: np.ndarray, ts: np.ndarray,
                    future: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Fit one forecaster on (ts, u) (normalized units) and forecast the future timestamps: (mean, sd)."""
    if isinstance(model, LocalForecaster):
        local = model.fit_local(u, ts, primary_season(u, ts))
        if local is None:
            return None
        _, _, state = model.run(local, model.initial_state(local), u, ts)
        return model.forecast_ahead(local, state, future)
    if isinstance(model, LstmForecasterModel):
        assert profile.features is not None
        need = profile.features.seq_len - 1
        return model.forecast_window(u[-need:], future.size) if u.size >= need else None
    return None


def _fit_all(profile: Profile, bundle: ModelBundle, names: list[str], u: np.ndarray, ts: np.ndarray,
             future: np.ndarray, skipped: dict[str, str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in names:
        try:
            got = member_forecast(bundle.models[name], profile, u, ts, future)
        except Exception as exc:  # one forecaster failing never fails the forecast
            log.warning("forecaster %s failed: %s", name, exc)
            skipped[name] = f"failed: {type(exc).__name__}"
            continue
        if got is None or not (np.all(np.isfinite(got[0])) and np.all(np.isfinite(got[1]))):
            skipped.setdefault(name, "could not fit this history")
            continue
        out[name] = (np.asarray(got[0], dtype=float), np.maximum(np.asarray(got[1], dtype=float), 1e-9))
    return out


def ensemble_weights(errors: dict[str, float]) -> dict[str, float]:
    """Inverse-error weights over the members no worse than the baseline on validation (all, without one)."""
    if not errors:
        return {}
    base = errors.get(BASELINE)
    eligible = {k: e for k, e in errors.items() if base is None or e <= base}
    floor = 1e-9 + 1e-6 * max(eligible.values())
    raw = {k: 1.0 / max(e, floor) for k, e in eligible.items()}
    total = sum(raw.values())
    return {k: raw[k] / total for k in sorted(raw)}


def combine(members: dict[str, tuple[np.ndarray, np.ndarray]], weights: dict[str, float]) -> tuple[
        np.ndarray, np.ndarray]:
    """Weighted mixture: its mean and the standard deviation of the mixture of the members' normals."""
    names = [k for k in weights if k in members]
    w = np.array([weights[k] for k in names])[:, None] / sum(weights[k] for k in names)
    means = np.array([members[k][0] for k in names])
    sds = np.array([members[k][1] for k in names])
    mean = (w * means).sum(axis=0)
    var = (w * (sds**2 + means**2)).sum(axis=0) - mean**2
    return mean, np.sqrt(np.maximum(var, (w * sds**2).sum(axis=0) * 1e-6))


def width_scale(actual: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> tuple[float, float]:
    """How much wider (or narrower) the 80% and 95% intervals must be to cover the validation points: the
    conformal quantile of |error| / sd at each level, divided by the normal quantile; 1 without validation."""
    if actual.size == 0:
        return 1.0, 1.0
    r = np.sort(np.abs(actual - mean) / sd)
    out = []
    for q, z in ((0.8, Z80), (0.95, Z95)):
        idx = min(int(np.ceil((r.size + 1) * q)) - 1, r.size - 1)
        out.append(float(np.clip(r[idx] / z, *K_BOUNDS)))
    return out[0], out[1]


def _intervals(mean: np.ndarray, sd: np.ndarray, k: tuple[float, float]) -> dict[str, list[float]]:
    def r(a: np.ndarray) -> list[float]:
        return [float(x) for x in np.round(a, 8)]
    return {"mean": r(mean), "lower_80": r(mean - Z80 * k[0] * sd), "upper_80": r(mean + Z80 * k[0] * sd),
            "lower_95": r(mean - Z95 * k[1] * sd), "upper_95": r(mean + Z95 * k[1] * sd)}


def forecast(profile: Profile, bundle: ModelBundle, history: History, horizon: int,
             models: list[str] | None = None) -> dict[str, Any]:
    """Per-model and ensemble forecasts (raw units) at the next `horizon` steps of the history's spacing."""
    ts, values = history.ts, history.values
    step = median_step(ts)
    if step <= 0:
        raise ValidationFailed("cannot infer the spacing of the timestamps")
    known = [*profile.models.forecasters, *([BASELINE] if BASELINE not in profile.models.forecasters else [])]
    wanted = models or known
    unknown = [m for m in wanted if m not in known]
    if unknown:
        raise ValidationFailed(f"not forecasters of profile {profile.name!r}: {unknown}", details={"forecasters": known})
    builtin = BASELINE not in bundle.models
    members = {**bundle.models, **({BASELINE: SeasonalNaiveModel()} if builtin else {})}
    skipped = {n: "not loaded" for n in wanted if n not in members}
    names = [n for n in wanted if n in members]
    bundle = ModelBundle(profile=bundle.profile, models=members, meta=None, pipeline=None,
                         versions={**bundle.versions, **({BASELINE: "builtin"} if builtin else {})})
    mu, scale = fitted_normalization(profile, values)
    u = (values - mu) / scale
    v = validation_points(values.size, horizon)
    errors: dict[str, float] = {}
    val: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if v:
        val = _fit_all(profile, bundle, names, u[:-v], ts[:-v], ts[-v:], {})
        errors = {k: float(np.mean(np.abs(u[-v:] - m))) for k, (m, _) in val.items()}
    future = ts[-1] + step * np.arange(1, horizon + 1)
    full = _fit_all(profile, bundle, names, u, ts, future, skipped)
    if not full:
        raise Conflict("no forecaster could forecast this history", details=skipped)
    weights = ensemble_weights({k: e for k, e in errors.items() if k in full}) or {k: 1 / len(full) for k in full}
    actual = u[-v:] if v else np.empty(0)
    out_models = {}
    for name, (m, s) in full.items():
        k = width_scale(actual, *val[name]) if name in val else (1.0, 1.0)
        out_models[name] = {**_intervals(m * scale + mu, s * scale, k), "version": bundle.version_of(name)}
    ens_mean, ens_sd = combine(full, weights)
    k_ens = width_scale(actual, *combine(val, weights)) if v and all(n in val for n in weights) else (1.0, 1.0)
    ensemble = {**_intervals(ens_mean * scale + mu, ens_sd * scale, k_ens), "version": None,
                "members": sorted(weights), "weights": {n: round(w, 6) for n, w in weights.items()},
                "interval_scale": {"80": round(k_ens[0], 4), "95": round(k_ens[1], 4)}}
    periods = detect_periods(values, step)
    return {
        "profile": profile.name, "horizon": horizon, "step_seconds": step, "season": periods[0] if periods else 1,
        "periods": periods, "timestamps": [float(t) for t in future], "models": out_models, "ensemble": ensemble,
        "validation": {"points": v, "mae": {k: round(e * scale, 8) for k, e in sorted(errors.items())}},
        "skipped": skipped, "history_points": int(values.size),
    }


class ForecastService:
    """Forecasts of histories and of streams' stored windows, the same history answered from a small cache."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def forecast(self, profile: Profile, bundle: ModelBundle, history: History, horizon: int,
                 models: list[str] | None = None) -> dict[str, Any]:
        key = hashlib.sha256(b"|".join([
            profile.name.encode(), history.ts.tobytes(), history.values.tobytes(), str(horizon).encode(),
            repr(models).encode(), repr(sorted(bundle.versions.items())).encode()])).hexdigest()
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        out = forecast(profile, bundle, history, horizon, models)
        with self._lock:
            self._items[key] = out
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return out

    def from_history(self, profile: Profile, bundle: ModelBundle, ts: np.ndarray, values: np.ndarray,
                     horizon: int, models: list[str] | None = None) -> dict[str, Any]:
        return self.forecast(profile, bundle, history_from_points(ts, values), horizon, models)
