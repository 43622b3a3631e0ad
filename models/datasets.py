"""Training data from a profile's sources: stream series with causal features and labels, or tables."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.profiles import Profile, SourceSpec
from models.base import SeriesData, TrainingSet
from models.features import Normalization, stream_rows
from models.stream_state import scale_floor


@dataclass
class ProfileData:
    """A profile's training set plus what serving needs from it (medians) and a hash of the inputs."""

    train: TrainingSet
    data_hash: str
    medians: dict[str, float]
    n_rows: int


def read_timestamps(col: pd.Series, unit: str) -> np.ndarray:
    if unit == "s":
        return col.astype(float).to_numpy()
    ts = pd.to_datetime(col, utc=True, format="mixed")
    return (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float)


def load_stream_source(src: SourceSpec, data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(data_dir / src.path)
    if src.filter_column is not None:
        df = df[df[src.filter_column].astype(str) == str(src.filter_value)]
    ts = read_timestamps(df[src.timestamp], src.timestamp_unit)
    values = df[src.value].astype(float).to_numpy()
    keep = np.isfinite(values) & np.isfinite(ts)
    if src.until:
        keep &= ts <= pd.Timestamp(src.until, tz="UTC").timestamp()
    order = np.argsort(ts[keep], kind="stable")
    return ts[keep][order], values[keep][order]


def warmup_length(n: int, profile: Profile) -> int:
    """NAB's probationary period: 15% of the series, at most 750 rows, at least the profile's warm-up."""
    assert profile.features is not None
    return int(min(max(int(0.15 * n), min(profile.features.warmup_points, n // 2)), 750))


def fitted_normalization(profile: Profile, warm: np.ndarray) -> tuple[float, float]:
    spec = profile.features
    assert spec is not None
    if spec.normalize == "peg":
        return spec.peg, 1.0
    mu = float(np.mean(warm))
    return mu, float(max(np.std(warm), scale_floor(mu)))


def forward_label(values: np.ndarray, peg: float, threshold: float, horizon: int) -> np.ndarray:
    """1 where |value - peg| >= threshold at any of the next `horizon` points (NaN where unknown)."""
    dev = np.abs(values - peg) >= threshold
    out = np.full(values.size, np.nan)
    for i in range(values.size - horizon):
        out[i] = float(dev[i + 1 : i + horizon + 1].any())
    return out


def validation_start(profile: Profile) -> float | None:
    if profile.label.validation_from is None:
        return None
    return float(pd.Timestamp(profile.label.validation_from, tz="UTC").timestamp())


def build_stream_data(profile: Profile, data_dir: Path) -> ProfileData:
    spec = profile.features
    assert spec is not None
    h = hashlib.sha256()
    X_parts, W_parts, y_parts, ts_parts, sid_parts, pos_parts = [], [], [], [], [], []
    series: list[SeriesData] = []
    for idx, src in enumerate(profile.training):
        ts, values = load_stream_source(src, data_dir)
        h.update((data_dir / src.path).read_bytes())
        warm = warmup_length(values.size, profile)
        mu, sd = fitted_normalization(profile, values[:warm])
        norm = Normalization(mu=np.full(values.size, mu), sd=np.full(values.size, sd))
        rows = stream_rows(spec, np.empty(0), values, norm)
        name = src.stream or Path(src.path).stem
        series.append(SeriesData(name=name, ts=ts, values=values, u=rows.u, warmup=warm))
        skip = spec.window  # the first rows see front-padded windows
        if profile.label.kind == "forward_abs_deviation":
            assert profile.label.threshold is not None
            y = forward_label(values, spec.peg, profile.label.threshold, profile.label.horizon)
        else:
            y = np.full(values.size, np.nan)
        X_parts.append(rows.X[skip:])
        W_parts.append(rows.windows[skip:])
        y_parts.append(y[skip:])
        ts_parts.append(ts[skip:])
        sid_parts.append(np.full(values.size - skip, idx))
        pos_parts.append(np.arange(skip, values.size))
    y_all = np.concatenate(y_parts)
    labelled = profile.has_labels
    keep = np.isfinite(y_all) if labelled else np.ones(y_all.size, dtype=bool)
    train = TrainingSet(
        X=np.concatenate(X_parts)[keep],
        feature_names=list(spec.names),
        y=y_all[keep].astype(int) if labelled else None,
        windows=np.concatenate(W_parts)[keep],
        series=series,
        row_stream=np.concatenate(sid_parts)[keep],
        row_pos=np.concatenate(pos_parts)[keep],
        order=np.concatenate(ts_parts)[keep],
        val_from=validation_start(profile),
    )
    return ProfileData(train=train, data_hash=h.hexdigest(), medians={}, n_rows=int(keep.sum()))


def build_tabular_data(profile: Profile, data_dir: Path, input_csv: Path | None = None) -> ProfileData:
    paths = [input_csv] if input_csv else [data_dir / s.path for s in profile.training]
    df = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    h = hashlib.sha256(b"".join(Path(p).read_bytes() for p in paths))
    names = [f.name for f in profile.fields]
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise ValueError(f"training data lacks columns {missing}")
    num = df[names].apply(pd.to_numeric, errors="coerce")
    medians = {n: float(num[n].median()) for n in names}
    X = num.fillna(medians).to_numpy(dtype=float)
    y = None
    if profile.label.kind == "column":
        assert profile.label.column is not None
        y = df[profile.label.column].astype(int).to_numpy()
    order = df["ID"].to_numpy(dtype=float) if "ID" in df.columns else np.arange(len(df), dtype=float)
    train = TrainingSet(X=X, feature_names=names, y=y, order=order)
    return ProfileData(train=train, data_hash=h.hexdigest(), medians=medians, n_rows=len(df))


def build_profile_data(profile: Profile, data_dir: Path, input_csv: Path | None = None) -> ProfileData:
    if profile.is_stream:
        if input_csv is not None:
            profile = profile.model_copy(update={"training": [SourceSpec(path=str(input_csv.resolve()))]})
        return build_stream_data(profile, data_dir)
    return build_tabular_data(profile, data_dir, input_csv)
