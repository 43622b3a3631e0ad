"""Feature pipeline: causal window features for streams, ordered numeric matrices for tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from core.profiles import Profile, StreamFeatureSpec

STREAM_FEATURES = (
    "level", "abs_level", "diff1", "diff_k", "roll_mean", "roll_std", "vol", "local_z", "max_abs", "range",
)


@dataclass
class Normalization:
    """Per-row centre and scale (rows may differ while a stream warms up on running statistics)."""

    mu: np.ndarray
    sd: np.ndarray

    def apply(self, values: np.ndarray) -> np.ndarray:
        if values.ndim == 2:
            return (values - self.mu[:, None]) / self.sd[:, None]
        return (values - self.mu) / self.sd


def span(spec: StreamFeatureSpec) -> int:
    """How many points (including the current one) a row's features look back over."""
    return max(spec.window + 1, spec.seq_len, 2)


def raw_windows(history: np.ndarray, new: np.ndarray, length: int) -> np.ndarray:
    """Rows of the last `length` raw values ending at each new point; short histories are front-padded."""
    full = np.concatenate([history, new]).astype(float)
    need = length - 1 - history.size
    if need > 0:
        full = np.concatenate([np.full(need, full[0]), full])
    windows = sliding_window_view(full, length)
    return windows[-new.size :]


def feature_eps(spec: StreamFeatureSpec) -> float:
    return 1e-4 if spec.normalize == "peg" else 1e-2


def window_features(wn: np.ndarray, spec: StreamFeatureSpec, names: Sequence[str]) -> np.ndarray:
    """Compute the named features from normalized windows (n x L, last column = current point)."""
    w = spec.window
    k = max(2, w // 4)
    eps = feature_eps(spec)
    cur = wn[:, -1]
    recent = wn[:, -w:]
    before = wn[:, -w - 1 : -1]
    cols: dict[str, np.ndarray] = {}
    for name in names:
        if name == "level":
            cols[name] = cur
        elif name == "abs_level":
            cols[name] = np.abs(cur)
        elif name == "diff1":
            cols[name] = cur - wn[:, -2]
        elif name == "diff_k":
            cols[name] = cur - wn[:, -1 - k]
        elif name == "roll_mean":
            cols[name] = recent.mean(axis=1)
        elif name == "roll_std":
            cols[name] = recent.std(axis=1)
        elif name == "vol":
            cols[name] = np.diff(recent, axis=1).std(axis=1)
        elif name == "local_z":
            cols[name] = (cur - before.mean(axis=1)) / (before.std(axis=1) + eps)
        elif name == "max_abs":
            cols[name] = np.abs(recent).max(axis=1)
        elif name == "range":
            cols[name] = recent.max(axis=1) - recent.min(axis=1)
        else:
            raise ValueError(f"unknown stream feature {name!r}; known: {', '.join(STREAM_FEATURES)}")
    return np.column_stack([cols[n] for n in names]) if names else np.zeros((wn.shape[0], 0))


@dataclass
class StreamRows:
    """Features of consecutive points of one stream."""

    X: np.ndarray
    windows: np.ndarray  # normalized, last seq_len points
    u: np.ndarray
    raw: np.ndarray  # raw values of each row's look-back span (last column = the point itself)


def stream_rows(
    spec: StreamFeatureSpec, history: np.ndarray, new: np.ndarray, norm: Normalization
) -> StreamRows:
    """Causal features for each new point: row i sees history plus new[: i + 1] only."""
    raw = raw_windows(history, new, span(spec))
    wn = norm.apply(raw)
    X = window_features(wn, spec, spec.names)
    return StreamRows(X=X, windows=np.ascontiguousarray(wn[:, -spec.seq_len :]), u=wn[:, -1].copy(), raw=raw)


def tabular_matrix(profile: Profile, rows: Sequence[dict[str, float]], medians: dict[str, float]) -> np.ndarray:
    """Numeric matrix in the profile's field order; absent optional fields take the training median."""
    names = [f.name for f in profile.fields]
    X = np.empty((len(rows), len(names)), dtype=float)
    for i, row in enumerate(rows):
        for j, name in enumerate(names):
            value = row.get(name)
            X[i, j] = medians.get(name, 0.0) if value is None else float(value)
    return X


def feature_names(profile: Profile) -> list[str]:
    if profile.is_stream:
        assert profile.features is not None
        return list(profile.features.names)
    return [f.name for f in profile.fields]
