"""Watch-lists (audited, used by the SQL SLM at once), feedback teaching the router (versioned, persisted),
the router's offline evaluation, and a timed-out tool reported without failing the decision."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Server


@pytest.fixture(scope="module")
def server2(trained_var: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    var = tmp_path_factory.mktemp("admin-var")
    shutil.copy(trained_var / "studio.db", var / "studio.db")
    env = {"STUDIO_VAR_DIR": str(var), "STUDIO_MODELS_DIR": str(trained_var / "models"), "STUDIO_LOG_LEVEL": "WARNING",
           "STUDIO_ENV": "test"}
    with Server(env) as srv:
        srv.env_vars = env  # type: ignore[attr-defined]
        yield srv


def test_watchlist_changes_decisions_and_is_audited(server2: Server) -> None:
    with server2.client() as c:
        ev = {"profile": "peg", "stream": "wl", "value": 0.996, "context": {"token": "USDX"}}
        before = c.post("/v1/decisions", json=ev).json()
        assert "peg.watchlisted_off_peg" not in {r["rule"] for r in before["rules"]}
        r = c.post("/v1/watchlists", json={"kind": "token", "value": "USDX", "reason": "issuer under investigation"})
        assert r.status_code == 201
        entry = r.json()
        after = c.post("/v1/decisions", json=ev).json()
        assert "peg.watchlisted_off_peg" in {r["rule"] for r in after["rules"]}
        sql = next(s for s in after["signals"] if s["name"] == "watchlisted")
        assert sql["fired"] and sql["matches"][0]["reason"] == "issuer under investigation"
        assert c.delete(f"/v1/watchlists/{entry['id']}").json()["active"] is False
        again = c.post("/v1/decisions", json=ev).json()
        assert "peg.watchlisted_off_peg" not in {r["rule"] for r in again["rules"]}
        assert c.get("/v1/watchlists").json()["entries"] == []
        assert c.post("/v1/watchlists", json={"kind": "token", "value": "X", "reason": "r",
                                              "expires_at": "2001-01-01T00:00:00Z"}).status_code == 422
        assert c.delete("/v1/watchlists/wl_nope").status_code == 404
        assert c.get("/v1/audit/verify").json()["ok"]


def test_a_batch_mixing_watchlisted_and_other_events_flags_each_one_rightly(server2: Server) -> None:
    """The SQL SLM looks a batch's distinct (kind, value) items up once: each event still gets its own hits."""
    with server2.client() as c:
        entry = c.post("/v1/watchlists", json={"kind": "token", "value": "WLMIX", "reason": "mixed batch"}).json()
        tokens = ["WLMIX", "OTHER", "WLMIX", "OTHER2", "OTHER", "WLMIX"]
        events = [{"profile": "peg", "stream": f"wlmix-{i % 2}", "value": 0.996, "context": {"token": t}}
                  for i, t in enumerate(tokens)]
        out = c.post("/v1/decisions:batch", json={"events": events}).json()["decisions"]
        c.delete(f"/v1/watchlists/{entry['id']}")
    for t, d in zip(tokens, out, strict=True):
        sql = next(s for s in d["signals"] if s["name"] == "watchlisted")
        assert sql["fired"] is (t == "WLMIX")
        assert [m["value"] for m in sql["matches"]] == (["WLMIX"] if t == "WLMIX" else [])
        assert ("peg.watchlisted_off_peg" in {r["rule"] for r in d["rules"]}) is (t == "WLMIX")


def test_feedback_teaches_the_router_and_survives_a_restart(server2: Server) -> None:
    with server2.client() as c:
        state0 = c.get("/v1/router/peg").json()
        assert state0["offline_evaluation"]["n"] == 0 and set(state0["arms"]) >= {"meta", "detectors"}
        ids = [c.post("/v1/decisions", json={"profile": "peg", "stream": "fb", "value": 1.0 - 0.001 * i,
                                             "timestamp": 1_700_000_000 + 3600 * i}).json()["id"] for i in range(30)]
        for i, d in enumerate(ids):
            r = c.post("/v1/feedback", json={"decision_id": d, "outcome": "incident" if i > 25 else "normal"})
            assert r.status_code == 200, r.text
        body = r.json()
        assert body["router_learned"] and body["router_version"].startswith("r")
        state = c.get("/v1/router/peg").json()
        assert state["updates"] == state0["updates"] + 30 and state["version"] == body["router_version"]
        ope = state["offline_evaluation"]
        assert ope["n"] == 30 and {"ips", "snips"} <= set(ope["current_policy"]) and "uniform" in ope
        assert "best_single_model" in ope
        assert c.post("/v1/feedback", json={"decision_id": "dec_nope", "outcome": 1}).status_code == 404
        assert c.post("/v1/feedback", json={"decision_id": ids[0], "outcome": 2.0}).status_code == 422
    server2.stop()
    server2.start()
    with server2.client() as c:
        assert c.get("/v1/router/peg").json()["version"] == state["version"]


def test_a_timed_out_tool_is_reported_and_the_governor_abstains(trained_var: Path, tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    shutil.copy(trained_var / "studio.db", var / "studio.db")
    env = {"STUDIO_VAR_DIR": str(var), "STUDIO_MODELS_DIR": str(trained_var / "models"), "STUDIO_LOG_LEVEL": "WARNING",
           "STUDIO_TOOL_TIMEOUT_MS": "0.001"}
    with Server(env) as srv, srv.client() as c:
        r = c.post("/v1/decisions", json={"profile": "credit", "features": {
            "LIMIT_BAL": 50000.0, "PAY_0": 0, "PAY_2": 0, "PAY_3": 0, "PAY_4": 0, "PAY_5": 0, "PAY_6": 0,
            "BILL_AMT1": 1000, "BILL_AMT2": 1000, "BILL_AMT3": 1000, "BILL_AMT4": 1000, "BILL_AMT5": 1000,
            "BILL_AMT6": 1000, "PAY_AMT1": 100, "PAY_AMT2": 100, "PAY_AMT3": 100, "PAY_AMT4": 100,
            "PAY_AMT5": 100, "PAY_AMT6": 100}})
        assert r.status_code == 200
        d = r.json()
        assert {m["status"] for m in d["models"]} == {"timeout"}
        assert all("no answer within" in m["error"] for m in d["models"])
        assert d["action"] == "review" and any(a["rule"] == "governor.quorum" for a in d["governor"]["actions"])
