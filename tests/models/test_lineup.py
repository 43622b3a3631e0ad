"""Every entry of the lazy model registry loads, fits on small real data, satisfies its protocol, calibrates to
0..1 and round-trips through its pickle-free artifact with identical scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.base import BaseModel, ScoringBatch, ScoringModel
from models.catalog import MODEL_CLASSES, create, model_class
from models.sequential import SequentialModel
from models.stream_state import StreamState
from tests.models.conftest import PROFILES

FAST = {"random_forest": {"n_estimators": 20}, "xgboost": {"n_estimators": 30}, "isolation_forest": {"n_estimators": 30},
        "lstm_ae": {"epochs": 1, "max_windows": 800}, "lstm_forecaster": {"epochs": 1, "max_windows": 800}}
BASE = [n for n in MODEL_CLASSES if n != "xgb_stack"]


def _data_for(name: str, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    cls = model_class(name)
    if cls.family == "classifier":
        return request.getfixturevalue("credit_small"), PROFILES["credit"]
    if cls.stream_only:
        return request.getfixturevalue("ops_small"), PROFILES["ops"]
    return request.getfixturevalue("peg_small"), PROFILES["peg"]


def _batch(train, profile, n: int = 64):  # type: ignore[no-untyped-def]
    states = {}
    streams = []
    if profile.is_stream:
        st = StreamState(profile.name, "s", profile.features)
        states = {"s": st}
        streams = ["s"] * n
    return ScoringBatch(X=train.X[:n], feature_names=train.feature_names,
                        windows=None if train.windows is None else train.windows[:n],
                        u=None if train.windows is None else train.windows[:n, -1],
                        values=None if train.windows is None else train.windows[:n, -1],  # unit-free models
                        ts=np.arange(n, dtype=float) * 300.0, streams=streams, states=states)


@pytest.mark.parametrize("name", BASE)
def test_every_model_fits_scores_and_round_trips(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    train, profile = _data_for(name, request)
    model = create(name, FAST.get(name))
    assert isinstance(model, BaseModel) and isinstance(model, ScoringModel)
    assert model.name == name and model.family in {"classifier", "detector", "forecaster"}
    assert model.fit(train) is model
    batch = _batch(train, profile)
    if isinstance(model, SequentialModel) and not getattr(model, "persistent_state", False):
        # give the stream its own fit, as the service does after warm-up (range-scaled detectors need none)
        series = train.series[0]
        local = model.fit_local(series.u[:300], series.ts[:300], 24)
        assert local is not None
        batch.states["s"].fit = type("F", (), {"local": {name: local}})()
    scores = model.score(batch)
    ready = scores.ready
    assert ready.any()
    assert np.all((scores.score[ready] >= 0) & (scores.score[ready] <= 1))
    assert np.all(np.isfinite(scores.raw[ready]))
    meta = model.save(tmp_path)
    loaded = type(model).load(tmp_path, meta)
    again = loaded.score(batch)
    np.testing.assert_allclose(again.score[ready], scores.score[ready], rtol=1e-6, atol=1e-9)
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.pickle"))


def test_meta_classifier_is_registered_and_fits(credit_small) -> None:  # type: ignore[no-untyped-def]
    from models.base import TrainingSet

    Z = np.column_stack([credit_small.X[:, :3], np.where(np.arange(len(credit_small.X)) % 7 == 0, np.nan, 0.5)])
    meta = create("xgb_stack").fit(TrainingSet(X=Z, feature_names=["a", "b", "c", "d"], y=credit_small.y))
    p = meta.predict(Z[:10])
    assert p.shape == (10,) and np.all((p >= 0) & (p <= 1))


def test_unknown_model_name_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: arima"):
        model_class("nope")


def test_forecasters_produce_intervals(ops_small) -> None:  # type: ignore[no-untyped-def]
    series = ops_small.series[0]
    for name in ("arima", "ets", "prophet"):
        model = create(name)
        local = model.fit_local(series.u[:300], series.ts[:300], 48)
        state = model.initial_state(local)
        _, _, state = model.run(local, state, series.u[:300], series.ts[:300])
        future = series.ts[299] + np.arange(1, 13) * 1800.0
        mean, sd = model.forecast_ahead(local, state, future)
        assert mean.shape == sd.shape == (12,) and np.all(sd > 0) and np.all(np.isfinite(mean))
        if name != "prophet":
            assert np.all(np.diff(sd) >= -1e-12)  # uncertainty does not shrink with the horizon
