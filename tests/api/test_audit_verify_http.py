"""GET /v1/audit/verify over HTTP (uvicorn on 127.0.0.1 with the real audit router, auth and error envelope):
truncation below the last checkpoint, a changed decision row, `expect_head`, a malformed head as a 422; and a
real `studio serve` writing its checkpoints at start and on shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text

from api.auth import auth_gate
from api.errors import install_error_handlers
from api.middleware import RequestContextMiddleware
from api.ratelimit import RateLimiter
from api.routes import audit as audit_routes
from store.decisions import DecisionWriter
from store.engine import make_engine
from studio import audit_integrity
from studio.bootstrap import open_base
from studio.keys import create_key
from tests.audit_helpers import append_events, audit_db, execute, unguard
from tests.helpers import Server, auth, free_port, server_env
from tests.store.test_decision_rows import decision


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, httpx.Client]]:
    with audit_db(request.param, tmp_path) as (settings, _engine):
        studio = open_base(settings)
        app = FastAPI()
        install_error_handlers(app)
        app.include_router(audit_routes.router)
        app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
        app.state.studio, app.state.settings = studio, settings
        app.state.auth = auth_gate(studio, RateLimiter(None))
        secret, _ = create_key(studio.engine, role="viewer", actor="test")
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth(secret), timeout=60) as client:
                yield studio, client
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            studio.engine.dispose()


def test_verify_route_reports_truncation_decisions_and_expected_head(served) -> None:  # type: ignore[no-untyped-def]
    studio, c = served
    decisions = [decision(i) for i in range(3)]
    DecisionWriter(studio.engine).write_batch("peg", decisions, [], "test")
    anchor = audit_integrity.anchor(studio.settings, studio.engine)
    body = c.get("/v1/audit/verify", params={"expect_head": anchor}).json()
    assert body["ok"] and body["expect_head"]["ok"] and body["decisions"]["checked"] == 3

    unguard(studio.engine)
    execute(studio.engine, "UPDATE decisions SET action = 'critical' WHERE id = :id", id=decisions[0]["id"])
    body = c.get("/v1/audit/verify").json()
    assert not body["ok"] and body["decisions"]["first_mismatch"]["decision_id"] == decisions[0]["id"]

    seq = int(anchor.split(":")[0])
    execute(studio.engine, "DELETE FROM audit_events WHERE seq >= :s", s=seq - 1)
    body = c.get("/v1/audit/verify", params={"expect_head": anchor}).json()
    assert body["truncated"]["from_seq"] == seq - 1 and body["truncated"]["to_seq"] == seq
    assert not body["expect_head"]["ok"]


def test_malformed_expect_head_is_a_422_envelope(served) -> None:  # type: ignore[no-untyped-def]
    studio, c = served
    append_events(studio.engine, 1)
    for bad in ("abc", "1:" + "z" * 64, "99999999999999999999:" + "a" * 64, "x" * 101):
        r = c.get("/v1/audit/verify", params={"expect_head": bad})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "validation_error"


@pytest.fixture(params=["sqlite", "postgresql"])
def server_db(request: pytest.FixtureRequest, settings) -> str:  # type: ignore[no-untyped-def]
    return settings.database_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


def test_a_server_checkpoints_at_start_and_on_shutdown(settings, server_db: str) -> None:  # type: ignore[no-untyped-def]
    """`studio serve` signs the head when it starts and, after its last batch, when it stops (SIGTERM)."""
    env = server_env(settings, server_db)
    with Server(env) as srv, srv.client() as c:
        for _ in range(3):
            assert c.post("/v1/decisions", json={"profile": "peg", "stream": "cp", "value": 1.0}).status_code == 200
        deadline = time.time() + 30
        while time.time() < deadline and not c.get("/v1/audit/verify").json()["checkpoints"]["checked"]:
            time.sleep(0.2)  # the start-up checkpoint runs in the background
        assert c.post("/v1/decisions", json={"profile": "peg", "stream": "cp", "value": 1.0}).status_code == 200
    engine = make_engine(server_db)
    try:
        with engine.connect() as conn:
            head = conn.execute(text("SELECT max(seq) FROM audit_events")).scalar_one()
            rows = conn.execute(text("SELECT seq, source FROM audit_checkpoints ORDER BY id")).all()
        assert rows[0][1] == "periodic" and rows[-1] == (head, "shutdown")
        report = audit_integrity.verify(settings.model_copy(update={"database_url": server_db}), engine)
        assert report["ok"] and report["checkpoints"]["latest"]["seq"] == head
    finally:
        engine.dispose()
