"""The forecasting service: detected seasonality, the new forecasters, validation weights and intervals."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationFailed
from models.bundle import ModelBundle
from models.catalog import create
from models.datasets import read_timestamps
from models.forecasting import (
    ForecastService,
    History,
    combine,
    ensemble_weights,
    forecast,
    history_from_points,
    validation_points,
    width_scale,
)
from models.seasonality import detect_periods, primary_season
from studio import PROJECT_ROOT
from tests.models.conftest import PROFILES

HOUR = 3600.0


def hourly(n: int, *, daily: float = 1.0, weekly: float = 0.0, noise: float = 0.2, seed: int = 0) -> np.ndarray:
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return (10 + daily * np.sin(2 * np.pi * t / 24) + weekly * np.sin(2 * np.pi * t / 168)
            + noise * rng.standard_normal(n))


def test_periods_are_detected_as_the_data_has_them() -> None:
    assert detect_periods(hourly(900, weekly=1.0), HOUR) == [24, 168]
    assert detect_periods(hourly(900), HOUR) == [24]
    rng = np.random.default_rng(1)  # white noise: the 90% test's false alarms only
    assert sum(bool(detect_periods(rng.standard_normal(900), HOUR)) for _ in range(100)) < 25
    assert detect_periods(np.full(900, 3.0), HOUR) == []  # constant: nothing to detect, no division by zero
    assert detect_periods(hourly(60), HOUR) == []  # fewer than three cycles
    df = pd.read_csv(PROJECT_ROOT / "data/nab/data/realKnownCause/nyc_taxi.csv").head(700)
    assert primary_season(df["value"].to_numpy(float), read_timestamps(df["timestamp"], "iso")) == 48


def test_autoreg_forecast_matches_statsmodels() -> None:
    from statsmodels.tsa.ar_model import AutoReg

    u = hourly(800, weekly=0.5)
    ts = HOUR * np.arange(u.size)
    model = create("autoreg")
    local = model.fit_local(u, ts, 24)
    assert local["lags"] == [1, 2, 3, 23, 24, 25, 48, 167, 168, 169]
    _, _, state = model.run(local, model.initial_state(local), u, ts)
    mean, sd = model.forecast_ahead(local, state, ts[-1] + HOUR * np.arange(1, 49))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = AutoReg(u, lags=local["lags"], trend="c").fit()
    np.testing.assert_allclose(mean, ref.predict(start=u.size, end=u.size + 47), atol=1e-9)
    assert sd[0] == pytest.approx(np.sqrt(ref.sigma2), rel=1e-9) and np.all(np.diff(sd) >= 0)


def test_seasonal_naive_takes_the_period_that_repeats() -> None:
    t = np.arange(900)
    week = np.where((t // 24) % 7 >= 5, 5.0, 0.0) + np.sin(2 * np.pi * t / 24)  # weekends differ
    ts = HOUR * t
    model = create("seasonal_naive")
    local = model.fit_local(week, ts, 24)
    assert local["m"] == 168
    _, _, state = model.run(local, model.initial_state(local), week, ts)
    mean, _ = model.forecast_ahead(local, state, ts[-1] + HOUR * np.arange(1, 200))
    np.testing.assert_allclose(mean[:168], week[-168:])
    five_min = 300.0 * np.arange(300)  # less than three days of 5-minute points: no period to test, naive
    assert create("seasonal_naive").fit_local(week[:300], five_min, 1)["m"] == 1


def test_weights_gate_on_the_baseline_and_follow_inverse_error() -> None:
    w = ensemble_weights({"seasonal_naive": 2.0, "autoreg": 1.0, "prophet": 3.0})
    assert set(w) == {"seasonal_naive", "autoreg"} and sum(w.values()) == pytest.approx(1.0)
    assert w["autoreg"] == pytest.approx(2 * w["seasonal_naive"])
    assert ensemble_weights({"autoreg": 0.0, "ets": 0.0}) == {"autoreg": 0.5, "ets": 0.5}
    assert ensemble_weights({}) == {}


def test_interval_width_follows_validation_errors() -> None:
    rng = np.random.default_rng(0)
    sd = np.ones(4000)
    k80, k95 = width_scale(2.0 * rng.standard_normal(4000), np.zeros(4000), sd)
    assert k80 == pytest.approx(2.0, rel=0.08) and k95 == pytest.approx(2.0, rel=0.08)
    assert width_scale(np.empty(0), np.empty(0), np.empty(0)) == (1.0, 1.0)
    mean, msd = combine({"a": (np.zeros(3), np.ones(3)), "b": (np.full(3, 2.0), np.ones(3))}, {"a": 0.5, "b": 0.5})
    np.testing.assert_allclose(mean, 1.0)
    np.testing.assert_allclose(msd, np.sqrt(2.0))  # within-member variance 1 plus the spread between them


def test_validation_window_leaves_enough_to_fit() -> None:
    assert validation_points(960, 48) == 48
    assert validation_points(100, 48) == 25
    assert validation_points(35, 48) == 0


def test_history_is_checked() -> None:
    with pytest.raises(ValidationFailed):
        history_from_points(np.arange(10.0), np.arange(10.0))
    with pytest.raises(ValidationFailed):
        history_from_points(np.zeros(40), np.arange(40.0))
    with pytest.raises(ValidationFailed):
        history_from_points(np.arange(40.0), np.full(40, np.inf))


NAMES = ["seasonal_naive", "autoreg", "arima", "ets"]
OPS = PROFILES["ops"].model_copy(deep=True)
OPS.models.forecasters = list(NAMES)


def _bundle() -> ModelBundle:
    names = NAMES
    return ModelBundle(profile="ops", models={n: create(n) for n in names}, meta=None, pipeline=None,
                       versions={n: "v1" for n in names})


def test_the_ensemble_beats_seasonal_naive_on_a_seasonal_series() -> None:
    y = hourly(960 + 48, weekly=0.8, noise=0.3, seed=3) + np.linspace(0, 3, 1008)  # a trend spoils the naive one
    ts = HOUR * np.arange(y.size)
    out = forecast(OPS, _bundle(), History(ts[:960], y[:960]), 48)
    assert out["periods"] == [24, 168] and out["validation"]["points"] == 48
    assert sum(out["ensemble"]["weights"].values()) == pytest.approx(1.0, abs=1e-5)
    err = np.mean(np.abs(np.asarray(out["ensemble"]["mean"]) - y[960:]))
    naive = np.mean(np.abs(y[960 - 24:960].tolist() * 2 - y[960:]))
    assert err < 0.95 * naive
    e = out["ensemble"]
    assert all(a <= b <= c <= d <= f for a, b, c, d, f in zip(e["lower_95"], e["lower_80"], e["mean"], e["upper_80"],
                                                               e["upper_95"], strict=True))


def test_a_member_that_fails_is_skipped_and_the_cache_answers_again() -> None:
    from models.forecasters.seasonal_naive import SeasonalNaiveModel

    class Broken(SeasonalNaiveModel):
        def fit_local(self, u: np.ndarray, ts: np.ndarray, season: int) -> None:
            raise RuntimeError("boom")

    bundle = _bundle()
    profile = OPS.model_copy(deep=True)
    profile.models.forecasters = [*NAMES, "broken"]
    bundle.models["broken"] = Broken()
    y = hourly(400)
    svc = ForecastService()
    out = svc.from_history(profile, bundle, HOUR * np.arange(400), y, 12)
    assert "broken" not in out["models"] and "broken" not in out["ensemble"]["weights"]
    assert out["skipped"]["broken"] == "failed: RuntimeError" and set(out["models"]) == set(NAMES)
    assert svc.from_history(profile, bundle, HOUR * np.arange(400), y, 12) is out


def test_autoreg_scores_the_same_in_one_batch_or_many() -> None:
    u = hourly(900, weekly=0.5)
    ts = HOUR * np.arange(u.size)
    model = create("autoreg")
    local = model.fit_local(u[:600], ts[:600], 24)
    whole, _, end = model.run(local, model.initial_state(local), u, ts)
    state, parts = model.initial_state(local), []
    for a, b in ((0, 7), (7, 300), (300, 301), (301, 900)):  # a short first batch takes the loop, then numpy
        r, _, state = model.run(local, state, u[a:b], ts[a:b])
        parts.append(r)
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert state == end and len(end["buf"]) == local["lags"][-1]


def test_seasonal_naive_is_a_member_even_when_the_profile_lacks_it() -> None:
    profile = OPS.model_copy(deep=True)
    profile.models.forecasters = ["autoreg", "arima"]
    bundle = _bundle()
    del bundle.models["seasonal_naive"]
    out = forecast(profile, bundle, History(HOUR * np.arange(500), hourly(500)), 24)
    assert set(out["models"]) == {"autoreg", "arima", "seasonal_naive"}
    assert out["models"]["seasonal_naive"]["version"] == "builtin"
    with pytest.raises(ValidationFailed):
        forecast(profile, bundle, History(HOUR * np.arange(500), hourly(500)), 24, ["ets"])
