"""Fit a stream on its own points: normalization, local forecasters, per-stream calibration, model states."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.profiles import Profile
from models.base import ScoringBatch
from models.bundle import ModelBundle
from models.calibration import EcdfCalibrator
from models.datasets import fitted_normalization
from models.features import Normalization, stream_rows
from models.seasonality import primary_season
from models.sequential import SequentialModel
from models.stream_state import StreamFit, StreamState, infer_step_and_season

MIN_CALIBRATION_POINTS = 30


def fit_stream(
    profile: Profile, bundle: ModelBundle, ts: np.ndarray, values: np.ndarray, *, n_at_fit: int, version: int
) -> tuple[StreamFit, dict[str, dict[str, Any]]]:
    """Learn everything stream-specific from (ts, values) and return the fit and each model's end state."""
    spec = profile.features
    assert spec is not None
    mu, sd = fitted_normalization(profile, values)
    u = (values - mu) / sd
    step, _ = infer_step_and_season(ts)
    season = primary_season(u, ts)  # the period the warm-up shows, 1 for none
    local: dict[str, dict[str, Any]] = {}
    for name, model in bundle.models.items():
        if isinstance(model, SequentialModel):
            params = model.fit_local(u, ts, season)
            if params is not None:
                local[name] = params
    fit = StreamFit(mu=mu, sd=sd, n_at_fit=n_at_fit, step_s=step, season=season, local=local, version=version)
    scratch = StreamState(profile.name, "_fit", spec)
    scratch.fit = fit
    rows = stream_rows(spec, np.empty(0), values, Normalization(mu=np.full(values.size, mu), sd=np.full(values.size, sd)))
    batch = ScoringBatch(X=rows.X, feature_names=list(spec.names), windows=rows.windows, u=rows.u, values=values,
                         ts=ts, streams=["_fit"] * values.size, states={"_fit": scratch})
    skip = min(spec.seq_len, values.size // 3)
    calibrators: dict[str, dict[str, Any]] = {}
    for name, model in bundle.models.items():
        scores = model.score(batch)
        if scores.new_states:
            scratch.model_state[name] = scores.new_states["_fit"]
        if spec.calibration == "per_stream" and model.calibrate_per_stream:
            ref = scores.raw[skip:][scores.ready[skip:]]
            if ref.size >= MIN_CALIBRATION_POINTS:
                calibrators[name] = EcdfCalibrator.fit(ref).to_json()
    fit.calibrators = calibrators
    return fit, scratch.model_state


def advance_states(
    bundle: ModelBundle, fit: StreamFit, states: dict[str, dict[str, Any]], ts: np.ndarray, values: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Walk sequential models over points that arrived while the fit was computed (catch-up)."""
    if values.size == 0:
        return states
    u = (values - fit.mu) / fit.sd
    out = dict(states)
    for name, model in bundle.models.items():
        if isinstance(model, SequentialModel) and name in fit.local and name in out:
            _, _, out[name] = model.run(fit.local[name], out[name], u, ts)
    return out
