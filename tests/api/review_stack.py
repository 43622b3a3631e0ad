"""A server per backend for the alert and review tests: SQLite (in-memory rate limits), and PostgreSQL with
Redis rate limits when STUDIO_TEST_REDIS_URL is set; with a reviewer, an analyst and a viewer key."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import Engine, create_engine, text

from store.engine import make_engine
from studio import PROJECT_ROOT
from tests.helpers import Server, copy_registry, pg_schema_url, sqlite_url


@dataclass
class Stack:
    server: Server
    engine: Engine
    backend: str
    redis_url: str | None
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)

    def client(self, role: str = "admin") -> httpx.Client:
        return self.server.client(key="admin" if role == "admin" else self.keys[role]["key"])


DEEP_DEPEG = {"id": "test.deep_depeg", "description": "(tests) 20% off the peg is as severe as it gets",
              "condition": "abs_deviation >= 0.2", "action": "critical", "min_severity": 10, "hard": True}


def rules_with_deep_depeg(out: Path) -> Path:
    """The shipped rule packs, with one more hard peg rule listed before peg.hard_depeg: a 20% depeg has
    severity 10 whatever the models say, and peg.hard_depeg (listed last) still names the alert's rule."""
    out.mkdir(parents=True, exist_ok=True)
    for path in (PROJECT_ROOT / "policies" / "rules").glob("*.yaml"):
        shutil.copy(path, out / path.name)
    pack = yaml.safe_load((out / "peg.yaml").read_text())
    pack["rules"].insert(0, DEEP_DEPEG)
    (out / "peg.yaml").write_text(yaml.safe_dump(pack, sort_keys=False))
    return out


def make_stack(backend: str, trained_var: Path, tmp_path_factory: pytest.TempPathFactory,
               **extra_env: str) -> Iterator[Stack]:
    var = tmp_path_factory.mktemp(f"review-{backend}")
    shutil.copy(trained_var / "studio.db", var / "studio.db")
    rules = rules_with_deep_depeg(var / "rules")
    env = {"STUDIO_VAR_DIR": str(var), "STUDIO_MODELS_DIR": str(trained_var / "models"), "STUDIO_LOG_LEVEL": "WARNING",
           "STUDIO_ENV": "test", "STUDIO_REVIEW_POLL_S": "0.2", "STUDIO_MAINTENANCE_INTERVAL_S": "0",
           "STUDIO_KEY_CACHE_S": "0.5", "STUDIO_RULES_DIR": str(rules), **extra_env}
    base, schema, redis_url = os.environ.get("STUDIO_TEST_DATABASE_URL"), None, None
    if backend == "postgresql":
        if not base:
            pytest.skip("PostgreSQL tests need STUDIO_TEST_DATABASE_URL (set by .ci/run)")
        schema = f"t_{uuid.uuid4().hex[:10]}"
        url = pg_schema_url(base, schema)
        copy_registry(sqlite_url(trained_var / "studio.db"), url)
        env["STUDIO_DATABASE_URL"] = url
        redis_url = os.environ.get("STUDIO_TEST_REDIS_URL")
        if redis_url:
            env["STUDIO_REDIS_URL"] = redis_url
    else:
        url = sqlite_url(var / "studio.db")
    engine = make_engine(url)
    srv = Server(env)
    try:
        srv.start()
        stack = Stack(srv, engine, backend, redis_url)
        with srv.client() as c:
            for role in ("viewer", "analyst", "reviewer"):
                r = c.post("/v1/keys", json={"role": role, "name": f"{role}-test"})
                assert r.status_code == 201, r.text
                stack.keys[role] = r.json()
        yield stack
    finally:
        srv.stop()
        engine.dispose()
        if schema is not None:
            admin = create_engine(str(base).replace("postgresql://", "postgresql+psycopg://", 1))
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "the condition") -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def peg_stream(c: httpx.Client, stream: str, values: list[float], t0: int = 1_678_000_000) -> list[dict[str, Any]]:
    """Post a peg stream's points in order (hourly); returns the decisions."""
    out = []
    for i, v in enumerate(values):
        r = c.post("/v1/decisions", json={"profile": "peg", "stream": stream, "value": v, "timestamp": t0 + 3600 * i,
                                          "context": {"token": "USDC"}})
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


def alert_of(c: httpx.Client, decision_id: str, status: tuple[str, ...] = ("awaiting_review", "triaged"),
             timeout: float = 30.0) -> dict[str, Any]:
    """The alert a decision opened or joined, once its triage reached one of `status`."""

    def find() -> dict[str, Any] | None:
        for a in c.get("/v1/alerts", params={"limit": 200}).json()["alerts"]:
            full = c.get(f"/v1/alerts/{a['id']}").json()
            if decision_id in {d["decision_id"] for d in full["decisions"]} and full["review"]["status"] in status:
                return full
        return None

    return wait_until(find, timeout, f"the alert of {decision_id} to reach {status}")
