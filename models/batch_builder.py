"""Build the scoring batch for events of one profile; shared by the prepare node and the model tools."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.events import DEFAULT_STREAM, Event
from models.base import ScoringBatch
from models.bundle import ModelBundle
from models.features import stream_rows, tabular_matrix
from models.sequential import rows_by_stream


def build_batch(rt: Any, bundle: ModelBundle, events: list[Event], *, commit: bool) -> tuple[ScoringBatch, dict[str, Any]]:
    """Features per event, causally. commit=True appends the points to their streams (the decision path);
    commit=False only reads the streams (a tool asked to score a hypothetical event)."""
    if not rt.profile.is_stream:
        X = tabular_matrix(rt.profile, [e.features for e in events], bundle.pipeline.medians)
        return ScoringBatch(X=X, feature_names=list(bundle.pipeline.feature_names)), {}
    assert rt.streams is not None and rt.profile.features is not None
    spec = rt.profile.features
    streams = [e.stream or DEFAULT_STREAM for e in events]
    states = rt.streams.get_many(streams)
    n = len(events)
    X = np.empty((n, len(spec.names)))
    windows = np.empty((n, spec.seq_len))
    u, values, ts = np.empty(n), np.empty(n), np.empty(n)
    prev, win_mean, win_std, seen = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    for stream, rows in rows_by_stream(streams).items():
        st = states[stream]
        vals = np.array([events[i].value for i in rows], dtype=float)
        stamps = np.array([events[i].ts for i in rows], dtype=float)
        sr = stream_rows(spec, st.values, vals, st.normalization(vals))
        X[rows], windows[rows], u[rows] = sr.X, sr.windows, sr.u
        values[rows], ts[rows] = vals, stamps
        before = sr.raw[:, -spec.window - 1 : -1]
        prev[rows], win_mean[rows], win_std[rows] = sr.raw[:, -2], before.mean(axis=1), before.std(axis=1)
        seen[rows] = st.n_seen + np.arange(1, rows.size + 1)
        if commit:
            st.append(stamps, vals)
    touched = {s: states[s] for s in dict.fromkeys(streams)}
    batch = ScoringBatch(X=X, feature_names=list(spec.names), windows=windows, u=u, values=values, ts=ts,
                         streams=streams, states=touched, prev=prev, win_mean=win_mean, win_std=win_std,
                         seen=seen, min_seen=spec.window + 1)
    return batch, touched
