"""Small real training sets (from the vendored data) so every model fits in seconds."""

from __future__ import annotations

import numpy as np
import pytest

from core.profiles import load_profiles
from models.base import SeriesData, TrainingSet
from models.datasets import build_profile_data
from studio import PROJECT_ROOT

PROFILES = load_profiles(PROJECT_ROOT / "profiles")


def _shrink(train: TrainingSet, n: int) -> TrainingSet:
    idx = np.sort(np.random.default_rng(0).choice(train.X.shape[0], size=min(n, train.X.shape[0]), replace=False))
    series = [SeriesData(s.name, s.ts[:900], s.values[:900], s.u[:900], min(s.warmup, 300)) for s in train.series[:2]]
    return TrainingSet(X=train.X[idx], feature_names=train.feature_names,
                       y=None if train.y is None else train.y[idx],
                       windows=None if train.windows is None else train.windows[idx], series=series,
                       row_stream=None if train.row_stream is None else train.row_stream[idx],
                       row_pos=None if train.row_pos is None else train.row_pos[idx],
                       order=None if train.order is None else train.order[idx], val_from=train.val_from)


@pytest.fixture(scope="session")
def peg_small() -> TrainingSet:
    return _shrink(build_profile_data(PROFILES["peg"], PROJECT_ROOT / "data").train, 3000)


@pytest.fixture(scope="session")
def credit_small() -> TrainingSet:
    return _shrink(build_profile_data(PROFILES["credit"], PROJECT_ROOT / "data").train, 3000)


@pytest.fixture(scope="session")
def ops_small() -> TrainingSet:
    return _shrink(build_profile_data(PROFILES["ops"], PROJECT_ROOT / "data").train, 3000)
