"""Restarts and several writers: stream state survives a restart; two servers on one PostgreSQL database keep
one unbroken audit chain; acknowledged decisions are in the database and the chain."""

from __future__ import annotations

import sqlite3
import time
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


def test_a_decision_waits_for_another_process_writing_without_stalling_the_server(settings) -> None:  # type: ignore[no-untyped-def]
    """A one-event batch is written on the event loop only if the write lock is free. While another process holds
    the SQLite database, the decision waits on the write thread and the server goes on answering."""
    event = {"profile": "peg", "stream": "locked", "value": 1.0, "timestamp": 1_700_000_000}
    with Server(server_env(settings)) as srv, srv.client() as c:
        assert c.post("/v1/decisions", json=event).status_code == 200
        other = sqlite3.connect(settings.var_dir / "studio.db", isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # as `studio replay` in another process would

        def decide() -> httpx.Response:
            with srv.client() as c2:
                return c2.post("/v1/decisions", json={**event, "timestamp": 1_700_000_060})

        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(decide)
            time.sleep(0.5)
            assert not pending.done()  # waiting for the database
            start = time.perf_counter()
            assert c.get("/v1/health").status_code in (200, 503)
            assert time.perf_counter() - start < 1.0  # the loop is not the one waiting
            other.execute("COMMIT")
            r = pending.result(timeout=30)
        other.close()
        assert r.status_code == 200, r.text
        assert c.get(f"/v1/decisions/{r.json()['id']}").status_code == 200
