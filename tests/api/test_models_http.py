"""Model registry and forecast APIs over a real server: list, promote, roll back, hot reload (audited),
a tampered artifact refused while the previous version keeps serving; forecasts with intervals."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import Server


@pytest.fixture(scope="module")
def admin_server(trained_var: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Own database and own copy of the artifacts (this module retrains and tampers)."""
    var = tmp_path_factory.mktemp("models-var")
    shutil.copy(trained_var / "studio.db", var / "studio.db")
    shutil.copytree(trained_var / "models", var / "models")
    env = {"STUDIO_VAR_DIR": str(var), "STUDIO_LOG_LEVEL": "WARNING", "STUDIO_ENV": "test"}
    with Server(env) as srv:
        srv.var = var  # type: ignore[attr-defined]
        yield srv


def test_list_promote_rollback_reload(admin_server: Server) -> None:
    import subprocess
    import sys

    from studio import PROJECT_ROOT

    env = {**admin_server.env}
    # a second version of the credit logistic regression, trained by the CLI on held-out-free bundled data
    r = subprocess.run([sys.executable, "-m", "studio.cli", "train", "--profile", "credit", "--no-activate"],
                       cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    with admin_server.client() as c:
        rows = c.get("/v1/models", params={"profile": "credit"}).json()["models"]
        logreg = [m for m in rows if m["model"] == "logreg"]
        assert [m["version"] for m in logreg] == ["v1", "v2"]
        assert [m["active"] for m in logreg] == [True, False] and logreg[0]["serving"]
        assert logreg[1]["metrics"]["auc"] > 0.6
        p = c.post("/v1/models/credit/logreg/promote", json={"version": "v2", "reason": "retrained"}).json()
        assert p["active"] == "v2" and p["previous"] == "v1" and "logreg" in p["changed"]
        h = c.get("/v1/health").json()
        assert h["profiles"]["credit"]["versions"]["logreg"] == "v2"
        rb = c.post("/v1/models/credit/logreg/rollback", json={"reason": "compare"}).json()
        assert rb["active"] == "v1"
        events = c.get("/v1/audit/verify").json()
        assert events["ok"]
        rl = c.post("/v1/models/credit/reload").json()
        assert rl["versions"]["logreg"] == "v1" and rl["changed"] == []


def test_tampered_version_is_refused_and_the_previous_keeps_serving(admin_server: Server) -> None:
    var: Path = admin_server.var  # type: ignore[attr-defined]
    weights = var / "models" / "credit" / "random_forest" / "v2" / "estimator.skops"
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with admin_server.client() as c:
        r = c.post("/v1/models/credit/random_forest/promote", json={"version": "v2"})
        assert r.status_code == 409
        err = r.json()["error"]
        assert err["code"] == "artifact_integrity" and "random_forest@v2" in err["message"]
        assert err["details"][0] == {"file": "estimator.skops", "problem": "sha256 mismatch"}
        assert c.get("/v1/health").json()["profiles"]["credit"]["versions"]["random_forest"] == "v1"
        d = c.post("/v1/decisions", json={"profile": "credit", "features": {
            "LIMIT_BAL": 50000.0, "PAY_0": 0, "PAY_2": 0, "PAY_3": 0, "PAY_4": 0, "PAY_5": 0, "PAY_6": 0,
            "BILL_AMT1": 1000, "BILL_AMT2": 1000, "BILL_AMT3": 1000, "BILL_AMT4": 1000, "BILL_AMT5": 1000,
            "BILL_AMT6": 1000, "PAY_AMT1": 100, "PAY_AMT2": 100, "PAY_AMT3": 100, "PAY_AMT4": 100,
            "PAY_AMT5": 100, "PAY_AMT6": 100}}).json()
        rf = next(m for m in d["models"] if m["name"] == "random_forest")
        assert rf["version"] == "v1" and rf["status"] == "ok"


def test_forecasts_from_history_and_from_a_live_stream(admin_server: Server) -> None:
    from studio import PROJECT_ROOT

    df = pd.read_csv(PROJECT_ROOT / "data/nab/data/realKnownCause/nyc_taxi.csv").head(600)
    history = [{"timestamp": t.replace(" ", "T") + "Z", "value": float(v)} for t, v in zip(df.timestamp, df.value,
                                                                                        strict=True)]
    with admin_server.client() as c:
        f = c.post("/v1/forecasts", json={"profile": "ops", "history": history, "horizon": 48}).json()
        assert f["season"] == 48 and f["periods"] == [48] and f["step_seconds"] == 1800 and len(f["timestamps"]) == 48
        assert set(f["models"]) == {"seasonal_naive", "autoreg", "arima", "ets", "prophet", "lstm_forecaster"}
        assert f["validation"]["points"] == 48 and set(f["validation"]["mae"]) == set(f["models"])
        weights = f["ensemble"]["weights"]
        assert abs(sum(weights.values()) - 1) < 1e-4 and set(weights) == set(f["ensemble"]["members"])
        assert all(f["validation"]["mae"][m] <= f["validation"]["mae"]["seasonal_naive"] for m in weights)
        for m in [*f["models"].values(), f["ensemble"]]:
            assert all(lo <= mu <= hi for lo, mu, hi in zip(m["lower_95"], m["mean"], m["upper_95"], strict=True))
            assert all(a <= b for a, b in zip(m["lower_95"], m["lower_80"], strict=True))
        # a live stream: warming up first (409), then forecastable once fitted
        r = c.post("/v1/forecasts", json={"profile": "ops", "stream": "taxi-live", "horizon": 12})
        assert r.status_code == 409
        events = [{"profile": "ops", "stream": "taxi-live", "timestamp": h["timestamp"], "value": h["value"]}
                  for h in history[:400]]
        assert c.post("/v1/decisions:batch", json={"events": events}).status_code == 200
        import time

        for _ in range(40):  # the stream's fit runs in the background; the next batch installs it
            time.sleep(0.5)
            c.post("/v1/decisions", json={**events[-1], "timestamp": "2014-07-09T08:00:00Z"})
            r = c.post("/v1/forecasts", json={"profile": "ops", "stream": "taxi-live", "horizon": 12})
            if r.status_code == 200:
                break
        assert r.status_code == 200, r.text
        assert len(r.json()["ensemble"]["mean"]) == 12
        bad = c.post("/v1/forecasts", json={"profile": "credit", "stream": "x"})
        assert bad.status_code == 422
