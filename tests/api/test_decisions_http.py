"""The decision API over a real HTTP server (uvicorn, SQLite): one event, batches, each profile, read-back."""

from __future__ import annotations

import time

import pandas as pd

from tests.helpers import Server

CREDIT_ROW = {"LIMIT_BAL": 20000.0, "SEX": 2, "EDUCATION": 2, "MARRIAGE": 1, "AGE": 24, "PAY_0": 2, "PAY_2": 2,
              "PAY_3": -1, "PAY_4": -1, "PAY_5": -2, "PAY_6": -2, "BILL_AMT1": 3913, "BILL_AMT2": 3102,
              "BILL_AMT3": 689, "BILL_AMT4": 0, "BILL_AMT5": 0, "BILL_AMT6": 0, "PAY_AMT1": 0, "PAY_AMT2": 689,
              "PAY_AMT3": 0, "PAY_AMT4": 0, "PAY_AMT5": 0, "PAY_AMT6": 0}


def test_peg_decision_has_everything_the_caller_needs(server: Server) -> None:
    with server.client() as c:
        r = c.post("/v1/decisions", json={"profile": "peg", "stream": "USDC-test", "value": 1.0001,
                                          "timestamp": "2023-03-08T00:00:00Z", "context": {"token": "USDC"}},
                   headers={"X-Request-ID": "req-peg-1"})
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == "req-peg-1"
    d = r.json()
    assert d["id"].startswith("dec_") and d["profile"] == "peg" and d["stream"] == "USDC-test"
    assert 0 <= d["severity"] <= 10 and d["action"] in {"none", "watch", "alert", "critical", "review"}
    names = {m["name"] for m in d["models"]}
    assert {"logreg", "random_forest", "xgboost", "isolation_forest", "cusum", "ets", "prophet"} <= names
    assert all(m["version"] for m in d["models"])
    assert d["model_versions"]["pipeline"]
    assert d["router"]["arm"] and 0 < d["router"]["propensity"] <= 1
    assert d["explanation"]["provider"] == "template" and "template narrator" in d["explanation"]["notice"]
    assert "Governor" in d["explanation"]["text"]


def test_hard_rule_makes_a_two_percent_depeg_critical(server: Server) -> None:
    with server.client() as c:
        for i, v in enumerate([1.0, 0.9999, 1.0001, 1.0]):
            c.post("/v1/decisions", json={"profile": "peg", "stream": "hard-rule", "value": v,
                                          "timestamp": 1_678_000_000 + 3600 * i})
        r = c.post("/v1/decisions", json={"profile": "peg", "stream": "hard-rule", "value": 0.979,
                                          "timestamp": 1_678_000_000 + 3600 * 10})
    d = r.json()
    assert d["action"] == "critical" and d["severity"] >= 9
    hard = [g for g in d["governor"]["actions"] if g["rule"] == "peg.hard_depeg"]
    assert hard and "cannot be overridden" in hard[0]["detail"]
    fired = {f["rule"]: f for f in d["rules"]}
    assert abs(fired["peg.hard_depeg"]["values"]["abs_deviation"] - 0.021) < 1e-9
    assert "2.10% below its peg" in d["explanation"]["text"]


def test_batch_keeps_order_and_reads_back(server: Server, shared_data) -> None:  # type: ignore[no-untyped-def]
    df = pd.read_csv(shared_data / "stablecoin" / "kraken_usdcusd_hourly_2023-03-08_17.csv").head(60)
    events = [{"profile": "peg", "stream": "kraken-batch", "timestamp": ts, "value": float(v)}
              for ts, v in zip(df["hour_utc"], df["close"], strict=True)]
    with server.client() as c:
        r = c.post("/v1/decisions:batch", json={"events": events})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["count"] == 60
        values = [d["inputs"]["value"] for d in body["decisions"]]
        assert values == [e["value"] for e in events]
        for one in body["decisions"]:  # the response embeds the row's serialized parts: the same content
            again = c.get(f"/v1/decisions/{one['id']}").json()
            assert {k: v for k, v in again.items() if k != "explanation"} == \
                {k: v for k, v in one.items() if k != "explanation"}
        stream = c.get("/v1/streams/peg/kraken-batch").json()
        assert stream["points_seen"] == 60 and stream["warm_up_points"] == 24
        # The fit runs in the background once the warm-up is complete; the next batch installs it (on a busy
        # machine the fit may take a while: keep sending points until it is installed).
        for k in range(30):
            time.sleep(1.0 if k else 3.0)
            c.post("/v1/decisions", json={"profile": "peg", "stream": "kraken-batch", "value": 1.0,
                                          "timestamp": 1_678_453_200 + 3600 * k})
            stream = c.get("/v1/streams/peg/kraken-batch").json()
            if stream["fitted"]:
                break
        assert stream["fitted"] is True and stream["fit"]["fitted_at_point"] == 60
        assert {"arima", "ets", "prophet", "cusum"} <= set(stream["fit"]["local_models"])


def test_credit_and_ops_profiles(server: Server) -> None:
    with server.client() as c:
        r = c.post("/v1/decisions", json={"profile": "credit", "features": CREDIT_ROW,
                                          "context": {"applicant_id": "A-1"}})
        assert r.status_code == 200, r.text
        d = r.json()
        assert {m["name"] for m in d["models"]} == {"logreg", "random_forest", "xgboost", "isolation_forest", "lof",
                                                     "ocsvm"}
        assert all(m["status"] == "ok" for m in d["models"])
        assert d["router"]["arm"] in {"meta", "classifiers", "detectors", "ensemble"}
        r = c.post("/v1/decisions", json={"profile": "ops", "stream": "cpu-1", "value": 42.0})
        assert r.status_code == 200, r.text
        assert {m["name"] for m in r.json()["models"]} >= {"cusum", "arima", "lstm_ae"}


def test_missing_decision_is_404_in_the_envelope(server: Server) -> None:
    with server.client() as c:
        r = c.get("/v1/decisions/dec_nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found" and r.json()["error"]["request_id"] == r.headers["x-request-id"]


def decision_counts(metrics: str) -> dict[str, float]:
    """studio_decisions_total of the peg profile, by action, from the Prometheus text."""
    out = {}
    for line in metrics.splitlines():
        if line.startswith("studio_decisions_total{") and 'profile="peg"' in line:
            labels, value = line.rsplit(" ", 1)
            out[labels.split('action="', 1)[1].split('"', 1)[0]] = float(value)
    return out


def test_health_metrics_and_docs(server: Server) -> None:
    with server.client() as c:
        h = c.get("/v1/health").json()
        assert h["status"] == "ok"
        db = next(d for d in h["dependencies"] if d["name"] == "database")
        assert db["status"] == "ok" and db["latency_ms"] >= 0
        assert h["profiles"]["peg"]["versions"]["random_forest"].startswith("v")
        assert h["uptime_s"] >= 0
        c.post("/v1/decisions", json={"profile": "peg", "stream": "metrics", "value": 1.0})
        m = c.get("/metrics").text
        assert "studio_http_request_seconds_bucket" in m
        assert 'studio_decisions_total{action=' in m and 'profile="peg"' in m
        events = [{"profile": "peg", "stream": "metrics", "value": v} for v in (1.0, 0.97, 1.0, 0.95, 1.0)]
        actions = [d["action"] for d in c.post("/v1/decisions:batch", json={"events": events}).json()["decisions"]]
        after = decision_counts(c.get("/metrics").text)
        before = decision_counts(m)
        assert {a: after[a] - before.get(a, 0) for a in after if after[a] != before.get(a, 0)} == {
            a: float(actions.count(a)) for a in set(actions)}  # counted per action, once per decision
        assert 'studio_model_seconds_bucket' in m and 'model="random_forest"' in m
        assert c.get("/docs").status_code == 200
        spec = c.get("/openapi.json").json()
        assert "/v1/decisions" in spec["paths"] and "/v1/decisions:batch" in spec["paths"]
