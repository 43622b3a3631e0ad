"""Our fast scoring paths compute exactly what the fitted libraries compute."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from models.catalog import create
from models.datasets import read_timestamps
from models.forest import compile_isolation_forest, compile_random_forest, isolation_score_samples
from studio import PROJECT_ROOT


def test_compiled_forests_match_scikit_learn(credit_small) -> None:  # type: ignore[no-untyped-def]
    from sklearn.ensemble import IsolationForest, RandomForestClassifier

    X, y = credit_small.X, credit_small.y
    rf = RandomForestClassifier(n_estimators=30, max_depth=8, random_state=0).fit(X, y)
    probe = np.vstack([X[:500], np.random.default_rng(1).normal(size=(200, X.shape[1])) * X.std(axis=0)])
    np.testing.assert_allclose(compile_random_forest(rf).mean(probe)[:, 1], rf.predict_proba(probe)[:, 1], atol=1e-12)
    iso = IsolationForest(n_estimators=40, random_state=0, max_features=0.7).fit(X)
    forest, den = compile_isolation_forest(iso)
    np.testing.assert_allclose(isolation_score_samples(forest, den, probe), iso.score_samples(probe), atol=1e-12)


def test_logistic_affine_map_matches_pipeline(credit_small) -> None:  # type: ignore[no-untyped-def]
    model = create("logreg").fit(credit_small)
    np.testing.assert_allclose(model.raw_proba(credit_small.X), model.estimator_.predict_proba(credit_small.X)[:, 1],
                               atol=1e-12)


@pytest.fixture(scope="module")
def taxi() -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(PROJECT_ROOT / "data/nab/data/realKnownCause/nyc_taxi.csv")
    y = df["value"].to_numpy(dtype=float)[:700]
    ts = read_timestamps(df["timestamp"], "iso")[:700]
    return (y - y.mean()) / y.std(), ts


def test_ets_recursion_matches_statsmodels(taxi) -> None:  # type: ignore[no-untyped-def]
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    u, ts = taxi
    model = create("ets")
    local = model.fit_local(u, ts, 48)
    _, extras, _ = model.run(local, model.initial_state(local), u, ts)
    ours = extras["forecast_u"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ExponentialSmoothing(u, trend="add", damped_trend=True, seasonal="add", seasonal_periods=48,
                                   initialization_method="estimated").fit()
    np.testing.assert_allclose(ours, ref.fittedvalues, atol=1e-8)


def test_arima_recursion_tracks_statsmodels_one_step(taxi) -> None:  # type: ignore[no-untyped-def]
    from statsmodels.tsa.arima.model import ARIMA

    u, ts = taxi
    model = create("arima")
    local = model.fit_local(u, ts, 48)
    m = local["m"]
    assert m == 48  # half-hourly taxi rides: the daily period is detected and differenced
    _, extras, _ = model.run(local, model.initial_state(local), u, ts)
    ours = extras["forecast_u"][m:] - u[:-m]  # our one-step forecasts of the seasonal differences
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ARIMA(u[m:] - u[:-m], order=(2, 0, 1), trend="c").fit().fittedvalues
    # Conditional (ours) and exact Kalman (statsmodels) filters agree once the start-up transient is gone.
    np.testing.assert_allclose(ours[50:], ref[50:], atol=1e-3)
    plain = create("arima", {"seasonal": False}).fit_local(u, ts, 48)
    assert plain["m"] == 0


def test_prophet_compact_predict_matches_prophet(taxi) -> None:  # type: ignore[no-untyped-def]
    from models.forecasters.prophet import ProphetModel, compact_predict

    u, ts = taxi
    for growth in ("flat", "linear"):
        model = ProphetModel(growth=growth)
        fitted = model.fit_prophet(u, ts)
        future = np.concatenate([ts, ts[-1] + np.arange(1, 200) * 1800.0])
        ref = fitted.predict(pd.DataFrame({"ds": pd.to_datetime(future, unit="s")}))["yhat"].to_numpy()
        np.testing.assert_allclose(compact_predict(ProphetModel.compact(fitted), future), ref, rtol=1e-9, atol=1e-9)


def test_numpy_lstms_match_torch(ops_small) -> None:  # type: ignore[no-untyped-def]
    from models import torch_nets

    x = np.clip(ops_small.windows[:300], -20, 20)
    ae = torch_nets.build_autoencoder(16)
    fc = torch_nets.build_forecaster(16)
    torch_nets.train(ae, x[:100], x[:100], epochs=1)
    torch_nets.train(fc, x[:100, :-1], x[:100, -1], epochs=1)
    np.testing.assert_allclose(torch_nets.NumpyAutoencoder(ae.state_dict())(x), torch_nets.predict(ae, x), atol=2e-5)
    np.testing.assert_allclose(torch_nets.NumpyAutoencoder(ae.state_dict(), ae)(x[:5]), torch_nets.predict(ae, x[:5]),
                               atol=2e-5)
    np.testing.assert_allclose(torch_nets.NumpyForecaster(fc.state_dict())(x[:, :-1]), torch_nets.predict(fc, x[:, :-1]),
                               atol=2e-5)


def test_fast_lof_ocsvm_xgb_match_their_libraries(credit_small) -> None:  # type: ignore[no-untyped-def]
    from models.fast_paths import FastLOF, FastOCSVM, FastXGB

    lof, svm, xgb = create("lof"), create("ocsvm"), create("xgboost", {"n_estimators": 40})
    for m in (lof, svm, xgb):
        m.fit(credit_small)
    X = credit_small.X[:700]
    fast_lof, fast_svm, fast_xgb = FastLOF(lof.estimator_), FastOCSVM(svm.estimator_), FastXGB(xgb.booster_)
    Xm = X.copy()
    Xm[::4, 3] = np.nan  # XGBoost's missing-value branches
    for rows in (slice(0, 700), *[slice(k, k + 7) for k in range(0, 700, 7)]):  # large and small batches
        np.testing.assert_allclose(fast_lof.score_samples(X[rows]), lof.estimator_.score_samples(X[rows]), atol=1e-9)
        np.testing.assert_allclose(fast_svm.score_samples(X[rows]), svm.estimator_.score_samples(X[rows]), atol=1e-9)
        np.testing.assert_allclose(fast_xgb.predict(Xm[rows]),
                                   xgb.booster_.inplace_predict(Xm[rows].astype(np.float32)), atol=1e-5)
