"""Drift against the training reference: the PSI is near zero for the training distribution and large for a
shifted one; the reference is recorded at training; on the credit profile, decisions like the training data
show little drift and decisions with one feature scaled show that feature drifting, in the report and in
the gauges."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.events import Event
from models.base import TrainingSet
from models.drift_reference import SAMPLE, build_reference
from studio.drift import psi


def test_psi_is_small_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=5000)
    edges = list(np.quantile(ref, np.linspace(0, 1, 11)))
    assert psi(rng.normal(size=2000), ref, edges) < 0.02
    assert psi(rng.normal(loc=1.0, size=2000), ref, edges) > 0.25
    # ties (a binary feature) merge bins instead of dividing by empty ones
    binary = rng.integers(0, 2, 1000).astype(float)
    tie_edges = list(np.quantile(binary, np.linspace(0, 1, 11)))
    assert psi(binary, binary, tie_edges) < 1e-6
    assert psi(np.ones(500), binary, tie_edges) > 0.25


def test_the_reference_is_recorded_deterministically() -> None:
    rng = np.random.default_rng(2)
    train = TrainingSet(X=rng.normal(size=(2000, 3)), feature_names=["a", "b", "c"])
    a = build_reference(train, {}, causal=False)
    assert a == build_reference(train, {}, causal=False) and a["rows"] == 2000
    assert set(a["features"]) == {"a", "b", "c"}
    assert len(a["features"]["a"]["edges"]) == 11 and len(a["features"]["a"]["sample"]) == SAMPLE
    assert build_reference(train, {"m": object()}, causal=True)["scores"] == {"m": {"kind": "uniform"}}


def _events(rows: pd.DataFrame, names: list[str], scale: dict[str, float] | None = None) -> list[Event]:
    scale = scale or {}
    return [Event(profile="credit", stream=None, ts=None, value=None, index=i, context={},
                  features={n: float(r[n]) * scale.get(n, 1.0) for n in names if pd.notna(r[n])})
            for i, (_, r) in enumerate(rows.iterrows())]


async def test_credit_decisions_drift_when_a_feature_shifts(settings: Any, shared_data: Any) -> None:  # type: ignore[no-untyped-def]
    from studio.bootstrap import build_studio, start, stop

    s = settings.model_copy(update={"drift_window": 300, "drift_interval_s": 0.0})
    st = build_studio(s, train=False)
    await start(st)
    try:
        assert st.drift is not None
        names = [f.name for f in st.profiles["credit"].fields]
        rows = pd.read_csv(shared_data / "credit" / "uci_credit_default.csv").sample(300, random_state=3)
        await st.runner.decide(_events(rows, names))
        calm = st.drift.compute("credit")
        assert calm["status"] == "ok" and calm["window"]["decisions"] == 300
        assert calm["reference"]["source"] == "training" and calm["reference"]["rows"] > 1000
        by_name = {f["feature"]: f for f in calm["features"]}
        assert set(names) <= set(by_name)
        assert by_name["LIMIT_BAL"]["psi"] < 0.1
        models = {m["model"]: m for m in calm["models"]}
        assert {"logreg", "random_forest", "xgboost", "isolation_forest", "lof", "ocsvm"} <= set(models)
        assert 0.0 <= models["xgboost"]["anomaly_rate"] <= 1.0
        assert models["xgboost"]["expected_anomaly_rate"] is not None
        q = models["xgboost"]["quantiles"]
        assert 0.0 <= q["0.1"] <= q["0.5"] <= q["0.9"] <= q["0.99"] <= 1.0

        await st.runner.decide(_events(rows, names, scale={"LIMIT_BAL": 4.0}))
        shifted = st.drift.compute("credit")
        drifted = {f["feature"]: f for f in shifted["features"]}
        assert drifted["LIMIT_BAL"]["psi"] > 0.25 > by_name["LIMIT_BAL"]["psi"]
        assert drifted["LIMIT_BAL"]["ks"] > by_name["LIMIT_BAL"]["ks"]
        st.drift.publish(shifted)
        text = st.metrics.render().decode()
        assert 'studio_feature_drift_psi{feature="LIMIT_BAL",profile="credit"}' in text
        assert "studio_score_drift_psi{" in text and "studio_model_window_anomaly_rate{" in text
        assert 'studio_model_score_quantile{model="xgboost",profile="credit",quantile="0.5"}' in text
        report = await st.drift.report("credit")
        assert report is shifted
    finally:
        await stop(st)
