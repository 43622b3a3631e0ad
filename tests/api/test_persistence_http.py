"""Restarts and several writers: stream state survives a restart; two servers on one PostgreSQL database keep
one unbroken audit chain; acknowledged decisions are in the database and the chain."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import bindparam, text

from store.engine import make_engine
from tests.helpers import Server, server_env


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, settings) -> str:  # type: ignore[no-untyped-def]
    return settings.database_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


def test_stream_state_survives_a_restart(settings, db_url: str) -> None:  # type: ignore[no-untyped-def]
    env = server_env(settings, db_url)
    points = [1.0, 1.0002, 0.9998, 1.0001, 0.9999, 1.0003, 0.9997, 1.0, 1.0002, 1.0]
    with Server(env) as srv, srv.client() as c:
        for i, v in enumerate(points):
            assert c.post("/v1/decisions", json={"profile": "peg", "stream": "restart", "value": v,
                                                 "timestamp": 1_700_000_000 + 60 * i}).status_code == 200
        before = c.get("/v1/streams/peg/restart").json()
    with Server(env) as srv, srv.client() as c:
        after = c.get("/v1/streams/peg/restart").json()
        assert after["points_seen"] == before["points_seen"] == len(points)
        assert after["last_points"] == before["last_points"]
        assert after["model_states"] == before["model_states"] and "cusum" in after["model_states"]
        # The first point after the restart is compared with the last one before it.
        d = c.post("/v1/decisions", json={"profile": "peg", "stream": "restart", "value": 0.99,
                                          "timestamp": 1_700_000_000 + 60 * len(points)}).json()
        roc = next(s for s in d["signals"] if s["name"] == "rate_of_change")
        assert abs(roc["value"] - (0.99 / 1.0 - 1)) < 1e-6


def test_acknowledged_means_audited(settings, db_url: str) -> None:  # type: ignore[no-untyped-def]
    env = server_env(settings, db_url)
    with Server(env) as srv, srv.client() as c:
        ids = [c.post("/v1/decisions", json={"profile": "peg", "stream": "ack", "value": 1.0}).json()["id"]
               for _ in range(5)]
    eng = make_engine(db_url)
    with eng.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM decisions WHERE id IN :ids").bindparams(
            bindparam("ids", expanding=True)), {"ids": ids}).scalar_one()
        audited = conn.execute(text("SELECT subject_id, payload FROM audit_events WHERE action = 'decision.recorded'"))
        audited_ids = {r[0] for r in audited}
    eng.dispose()
    assert stored == 5 and set(ids) <= audited_ids


def test_two_servers_one_postgres_chain(settings, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    env = server_env(settings, pg_url)
    with Server(env) as a, Server(env) as b:
        def fire(k: int) -> int:
            srv = a if k % 2 else b
            r = httpx.post(f"{srv.url}/v1/decisions", json={"profile": "credit", "features": {
                "LIMIT_BAL": 50000.0 + k, "PAY_0": 0, "PAY_2": 0, "PAY_3": 0, "PAY_4": 0, "PAY_5": 0, "PAY_6": 0,
                "BILL_AMT1": 1000, "BILL_AMT2": 1000, "BILL_AMT3": 1000, "BILL_AMT4": 1000, "BILL_AMT5": 1000,
                "BILL_AMT6": 1000, "PAY_AMT1": 100, "PAY_AMT2": 100, "PAY_AMT3": 100, "PAY_AMT4": 100,
                "PAY_AMT5": 100, "PAY_AMT6": 100}}, timeout=60, headers=srv.headers)
            return r.status_code

        with ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(fire, range(120)))
        assert codes == [200] * 120
        report = httpx.get(f"{a.url}/v1/audit/verify", timeout=60, headers=a.headers).json()
    assert report["ok"] and report["checked"] >= 120
