"""Per-stream state: history window, running statistics, the stream's own fit and each model's filter state."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.profiles import StreamFeatureSpec
from models.calibration import Calibrator, calibrator_from_json
from models.features import Normalization


@dataclass
class StreamFit:
    """What a stream learned on its warm-up: normalization, local forecaster fits, per-stream calibrators."""

    mu: float
    sd: float
    n_at_fit: int
    step_s: float
    season: int
    local: dict[str, dict[str, Any]] = field(default_factory=dict)
    calibrators: dict[str, dict[str, Any]] = field(default_factory=dict)
    fitted_at: float = field(default_factory=time.time)
    version: int = 1
    _cal_cache: dict[str, Calibrator] = field(default_factory=dict, repr=False)

    def calibrator(self, model: str) -> Calibrator | None:
        if model not in self.calibrators:
            return None
        cached = self._cal_cache.get(model)
        if cached is None:
            cached = self._cal_cache[model] = calibrator_from_json(self.calibrators[model])
        return cached

    def to_json(self) -> dict[str, Any]:
        return {
            "mu": self.mu, "sd": self.sd, "n_at_fit": self.n_at_fit, "step_s": self.step_s,
            "season": self.season, "local": self.local, "calibrators": self.calibrators,
            "fitted_at": self.fitted_at, "version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StreamFit:
        return cls(**{k: data[k] for k in (
            "mu", "sd", "n_at_fit", "step_s", "season", "local", "calibrators", "fitted_at", "version")})


_UNDO = ("ts", "values", "n_seen", "run_n", "run_mean", "run_m2", "fit", "version", "fit_requested", "dirty",
         "fit_dirty", "min_keep", "refit_reason", "ranks", "alarm")


class StreamState:
    """Everything the service remembers about one stream between events (persisted, survives restarts)."""

    def __init__(self, profile: str, stream: str, spec: StreamFeatureSpec, peg: float | None = None) -> None:
        self.profile = profile
        self.stream = stream
        self.spec = spec
        self.ts = np.empty(0)
        self.values = np.empty(0)
        self.n_seen = 0
        self.run_n = 0
        self.run_mean = 0.0
        self.run_m2 = 0.0
        self.fit: StreamFit | None = None
        self.model_state: dict[str, dict[str, Any]] = {}
        self.ranks: dict[str, dict[str, Any]] = {}  # model -> OnlineRank history (causal calibration)
        self.alarm: dict[str, Any] = {"last": None, "above": False}  # the alarm stage's state
        self.version = 0
        self.fit_requested = False
        self.dirty = False
        self.fit_dirty = False
        self.min_keep = 0  # the manager raises this so a warm-up (or refit) window fits in the history
        self.refit_reason: str | None = None

    # -- normalization --------------------------------------------------------------------------------
    def normalization(self, new: np.ndarray) -> Normalization:
        """Per-row centre/scale for the new points, using only points up to each row (causal)."""
        n = new.size
        if self.spec.normalize == "peg":
            return Normalization(mu=np.full(n, self.spec.peg), sd=np.ones(n))
        if self.fit is not None:
            return Normalization(mu=np.full(n, self.fit.mu), sd=np.full(n, self.fit.sd))
        counts = self.run_n + np.arange(1, n + 1)
        shift = self.run_mean if self.run_n else float(new[0])
        d = new - shift
        csum = np.cumsum(d) + (self.run_mean - shift) * self.run_n
        csq = np.cumsum(d * d) + self.run_m2 + self.run_n * (self.run_mean - shift) ** 2
        mean_d = csum / counts
        var = np.maximum(csq / counts - mean_d**2, 0.0)
        mu = mean_d + shift
        return Normalization(mu=mu, sd=np.maximum(np.sqrt(var), scale_floor(mu)))

    def calibrator(self, model: str) -> Calibrator | None:
        if self.fit is None or self.spec.calibration != "per_stream":
            return None
        return self.fit.calibrator(model)

    # -- updates --------------------------------------------------------------------------------------
    def append(self, ts: np.ndarray, values: np.ndarray) -> None:
        """Add points (already scored) to the window and the running statistics."""
        keep = max(self.spec.history, self.min_keep)
        self.ts = np.concatenate([self.ts, ts])[-keep:]
        self.values = np.concatenate([self.values, values])[-keep:]
        for v in values:  # Welford, exact and cheap for batch sizes we see
            self.run_n += 1
            delta = v - self.run_mean
            self.run_mean += delta / self.run_n
            self.run_m2 += delta * (v - self.run_mean)
        self.n_seen += int(values.size)
        self.dirty = True

    def set_fit(self, fit: StreamFit, model_state: dict[str, dict[str, Any]]) -> None:
        self.fit = fit
        self.model_state = model_state
        self.fit_requested = False
        self.refit_reason = None
        self.dirty = True
        self.fit_dirty = True

    # -- undo -----------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """What a batch may change, so a failed batch can be undone (`restore`). Cheap: a batch replaces the
        arrays and each model's state, it never changes them in place."""
        snap = {k: getattr(self, k) for k in _UNDO}
        snap["model_state"] = dict(self.model_state)
        return snap

    def restore(self, snap: dict[str, Any]) -> None:
        for k, v in snap.items():
            setattr(self, k, dict(v) if k == "model_state" else v)

    @property
    def since_fit(self) -> int:
        return self.n_seen - (self.fit.n_at_fit if self.fit else 0)

    # -- persistence ----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "ts": self.ts.tolist(), "values": self.values.tolist(), "n_seen": self.n_seen,
            "run": [self.run_n, self.run_mean, self.run_m2], "model_state": self.model_state,
            "ranks": self.ranks, "alarm": self.alarm, "version": self.version,
        }

    @classmethod
    def from_json(
        cls, profile: str, stream: str, spec: StreamFeatureSpec, data: dict[str, Any], fit: dict[str, Any] | None
    ) -> StreamState:
        state = cls(profile, stream, spec)
        state.ts = np.asarray(data["ts"], dtype=float)
        state.values = np.asarray(data["values"], dtype=float)
        state.n_seen = int(data["n_seen"])
        state.run_n, state.run_mean, state.run_m2 = int(data["run"][0]), float(data["run"][1]), float(data["run"][2])
        state.model_state = data.get("model_state", {})
        state.ranks = data.get("ranks", {})
        state.alarm = data.get("alarm", {"last": None, "above": False})
        state.fit = StreamFit.from_json(fit) if fit else None
        state.version = int(data.get("version", 0))
        return state


def scale_floor(mu: np.ndarray | float) -> np.ndarray | float:
    """Smallest standard deviation used to normalize (flat streams would otherwise divide by zero)."""
    return 1e-3 * np.maximum(1.0, np.abs(mu))


def infer_step_and_season(ts: np.ndarray) -> tuple[float, int]:
    """Median spacing in seconds and the seasonal period it implies: a day of points, or a week of days."""
    if ts.size < 3:
        return 0.0, 1
    step = float(np.median(np.diff(ts)))
    if step <= 0:
        return 0.0, 1
    if step >= 86400 * 0.9:
        return step, 7 if step < 86400 * 1.5 else 1
    season = int(round(86400 / step))
    return step, max(season, 1)
