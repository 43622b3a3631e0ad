"""Sequential (stateful, per-stream) scoring: models that walk each stream's points in order."""

from __future__ import annotations

from typing import Any

import numpy as np

from models.base import BaseModel, Extras, RawScores, ScoringBatch, SeriesData, TrainingSet


def rows_by_stream(streams: list[str]) -> dict[str, np.ndarray]:
    """Row indices of each stream, in arrival order."""
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(streams):
        groups.setdefault(s, []).append(i)
    return {s: np.asarray(ix, dtype=int) for s, ix in groups.items()}


def train_raw_rows(model: Any, train: TrainingSet) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, the sequential model's out-of-sample raw scores for them) over every training series;
    rows inside a series' warm-up have no score and are left out."""
    assert train.row_stream is not None and train.row_pos is not None
    idx, vals = [], []
    for sidx, series in enumerate(train.series):
        raw = getattr(model, "train_raw_", {}).get(series.name)
        if raw is None:
            continue
        rows = np.where(train.row_stream == sidx)[0]
        pos = train.row_pos[rows] - series.warmup
        ok = pos >= 0
        idx.append(rows[ok])
        vals.append(raw[pos[ok]])
    if not idx:
        return np.zeros(0, dtype=int), np.zeros(0)
    return np.concatenate(idx), np.concatenate(vals)


class SequentialModel(BaseModel):
    """Template for per-stream models: fit_local() on a stream's warm-up, run() over its points in order.

    Subclasses implement fit_local, initial_state and run. Global training fits each training stream on its
    warm-up, runs the rest out of sample, and calibrates on those out-of-sample raw scores.
    """

    stream_only = True
    window_based = False  # walks the points themselves; answers from its first point
    calibrate_per_stream = False  # locally fitted: the global calibration of standardized errors applies

    # -- per-stream hooks -------------------------------------------------------------------------------
    def fit_local(self, u: np.ndarray, ts: np.ndarray, season: int) -> dict[str, Any] | None:
        raise NotImplementedError

    def initial_state(self, local: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def run(
        self, local: dict[str, Any], state: dict[str, Any], u: np.ndarray, ts: np.ndarray
    ) -> tuple[np.ndarray, Extras | None, dict[str, Any]]:
        """Raw scores for u (in order), optional per-row extras, and the state after the last point."""
        raise NotImplementedError

    def global_local(self) -> dict[str, Any] | None:
        """Parameters usable by a stream before it has its own fit (None: the model waits for the fit)."""
        return None

    # -- training -------------------------------------------------------------------------------------
    def _check(self, data: TrainingSet) -> None:
        if not data.series:
            raise ValueError(f"{self.name}: needs training streams")

    def _fit(self, data: TrainingSet) -> np.ndarray:
        refs: list[np.ndarray] = []
        self.series_metrics_: dict[str, dict[str, float]] = {}
        self.locals_: dict[str, dict[str, Any]] = {}
        for series in data.series:
            out = self.fit_series(series)
            if out is None:
                continue
            raw, metrics, local = out
            refs.append(raw)
            self.series_metrics_[series.name] = metrics
            self.locals_[series.name] = local
        self._fit_global(data)
        if not refs:
            raise ValueError(f"{self.name}: no training stream was long enough")
        return np.concatenate(refs)

    def _fit_global(self, data: TrainingSet) -> None:
        return None

    def fit_series(self, series: SeriesData) -> tuple[np.ndarray, dict[str, float], dict[str, Any]] | None:
        """Fit on the warm-up, score the rest out of sample: (raw scores, metrics, local params)."""
        from models.seasonality import primary_season

        w = series.warmup
        if series.u.size - w < 10:
            return None
        season = primary_season(series.u[:w], series.ts[:w])
        local = self.fit_local(series.u[:w], series.ts[:w], season)
        if local is None:
            return None
        state = self.initial_state(local)
        _, _, state = self.run(local, state, series.u[:w], series.ts[:w])
        raw, extras, _ = self.run(local, state, series.u[w:], series.ts[w:])
        self.train_raw_ = getattr(self, "train_raw_", {})
        self.train_raw_[series.name] = raw  # out-of-sample scores of rows warmup.., for the meta-classifier
        return raw, self.series_metric(series, extras, raw), local

    def series_metric(
        self, series: SeriesData, extras: Extras | None, raw: np.ndarray
    ) -> dict[str, float]:
        return {"mean_raw": float(np.mean(raw)), "p99_raw": float(np.quantile(raw, 0.99))}

    # -- scoring --------------------------------------------------------------------------------------
    def _score(self, batch: ScoringBatch) -> RawScores:
        n = len(batch)
        raw = np.zeros(n)
        ready = np.zeros(n, dtype=bool)
        extras: Extras = {}
        new_states: dict[str, dict[str, Any]] = {}
        assert batch.u is not None and batch.ts is not None
        for stream, rows in rows_by_stream(batch.streams).items():
            st = batch.states.get(stream)
            fit = st.fit if st is not None else None
            local = (fit.local.get(self.name) if fit is not None else None) or self.global_local()
            if local is None:
                continue
            mstate = st.model_state.get(self.name) if st is not None else None
            if mstate is None:
                mstate = self.initial_state(local)
            r, ex, new_state = self.run(local, mstate, batch.u[rows], batch.ts[rows])
            raw[rows] = r
            ready[rows] = True
            for key, col in (ex or {}).items():
                extras.setdefault(key, np.full(n, np.nan))[rows] = col
            new_states[stream] = new_state
        return raw, ready, extras or None, new_states  # the caller decides whether to keep the new states

    def _save(self, directory: Any) -> dict[str, Any]:
        return {"series_metrics": getattr(self, "series_metrics_", {}), "locals": getattr(self, "locals_", {})}

    def _load(self, directory: Any, meta: dict[str, Any]) -> None:
        self.series_metrics_ = meta.get("series_metrics", {})
        self.locals_ = meta.get("locals", {})
