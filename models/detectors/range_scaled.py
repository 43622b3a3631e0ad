"""Base for detectors that measure a stream against the range of values it has shown so far.

They read the raw values (not the warm-up-normalized ones): dividing by the range makes them invariant to the
stream's unit and offset, and their state stays valid when the stream's fit changes (a refit never resets it).
No per-stream fit: the same parameters serve every stream from its first point. Training runs them over the
training streams to learn the prior their causal calibration starts from.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from models.base import Detector, Extras, RawScores, ScoringBatch, SeriesData
from models.sequential import SequentialModel, rows_by_stream


def stream_range(lo: float, hi: float) -> float:
    """The range used to scale distances; a constant stream so far gets a tiny relative one."""
    return max(hi - lo, 1e-9 * max(1.0, abs(hi), abs(lo)))


class RangeScaledDetector(SequentialModel, Detector):
    persistent_state: ClassVar[bool] = True  # the stream fit does not own this state: refits keep it
    calibrate_per_stream: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        super().__init__(**{**self.defaults, **params})

    def fit_local(self, u: np.ndarray, ts: np.ndarray, season: int) -> dict[str, Any] | None:
        return None  # nothing stream-specific to fit

    def global_local(self) -> dict[str, Any] | None:
        return dict(self.params)

    def fit_series(self, series: SeriesData) -> tuple[np.ndarray, dict[str, float], dict[str, Any]] | None:
        """Run over the whole training stream from an empty state; the points after its warm-up are the
        calibration prior (those before are the detector learning the stream)."""
        local = dict(self.params)
        raw, _, _ = self.run(local, self.initial_state(local), series.values, series.ts)
        w = min(series.warmup, raw.size // 2)
        out = raw[w:]
        self.train_raw_ = getattr(self, "train_raw_", {})
        self.train_raw_[series.name] = out
        return out, {"mean_raw": float(np.mean(out)), "share_positive": float(np.mean(out > 0))}, {}

    def _score(self, batch: ScoringBatch) -> RawScores:
        n = len(batch)
        raw = np.zeros(n)
        ready = np.zeros(n, dtype=bool)
        new_states: dict[str, dict[str, Any]] = {}
        assert batch.values is not None and batch.ts is not None
        local = dict(self.params)
        for stream, rows in rows_by_stream(batch.streams).items():
            st = batch.states.get(stream)
            mstate = st.model_state.get(self.name) if st is not None else None
            if mstate is None:
                mstate = self.initial_state(local)
            r, _, new_state = self.run(local, mstate, batch.values[rows], batch.ts[rows])
            raw[rows] = r
            ready[rows] = True
            new_states[stream] = new_state
        return raw, ready, None, new_states

    def run(self, local: dict[str, Any], state: dict[str, Any], u: np.ndarray,
            ts: np.ndarray) -> tuple[np.ndarray, Extras | None, dict[str, Any]]:
        raise NotImplementedError
