"""Standalone `studio worker` processes on SQLite and PostgreSQL: a worker killed (kill -9) mid-job loses nothing
and the job completes exactly once; several workers share the queue without running a job twice."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from store.engine import make_engine
from studio import PROJECT_ROOT
from tests.helpers import Server, copy_registry, pg_schema_url, sqlite_url
from tests.llm_server import Reply, ScriptedLLM
from tests.overseer.conftest import audit_of, job_of, overseer_env
from tests.overseer.scripts import JUDGE, NARRATE, judged, narrated, narration, verdict


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, trained_var: Path, tmp_path_factory: pytest.TempPathFactory,
          llm: ScriptedLLM, overseer_profiles: Path) -> Iterator[dict[str, Any]]:
    """A server that only enqueues (no in-process workers); jobs are left to `studio worker` processes."""
    var = tmp_path_factory.mktemp(f"workers-{request.param}")
    shutil.copy(trained_var / "studio.db", var / "studio.db")
    base, schema = os.environ.get("STUDIO_TEST_DATABASE_URL"), None
    if request.param == "sqlite":
        url = sqlite_url(var / "studio.db")
    else:
        if not base:
            pytest.skip("PostgreSQL tests need STUDIO_TEST_DATABASE_URL")
        schema = f"t_{uuid.uuid4().hex[:10]}"
        url = pg_schema_url(base, schema)
        copy_registry(sqlite_url(trained_var / "studio.db"), url)
    env = overseer_env(var, trained_var, llm, overseer_profiles, database_url=url, STUDIO_EXPLANATION_WORKERS="0",
                       STUDIO_EXPLANATION_LEASE_S="3", STUDIO_EXPLANATION_MAX_ATTEMPTS="3",
                       STUDIO_LLM_TIMEOUT_S="30")
    engine = make_engine(url)
    try:
        with Server(env) as srv:
            yield {"server": srv, "env": {**os.environ, **env}, "engine": engine, "var": var}
    finally:
        engine.dispose()
        if schema is not None:
            admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))  # type: ignore[union-attr]
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


def start_worker(stack: dict[str, Any], name: str, workers: int = 1) -> subprocess.Popen[bytes]:
    log = (stack["var"] / f"{name}.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "studio.cli", "worker", "--workers", str(workers)],
                            cwd=PROJECT_ROOT, env=stack["env"], stdout=log, stderr=subprocess.STDOUT)


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def event(i: int = 0) -> dict[str, Any]:
    return {"profile": "peg", "stream": f"K-{uuid.uuid4().hex[:6]}-{i}", "value": 0.979,
            "timestamp": "2023-03-11T07:00:00Z", "context": {"token": "USDC"}}


def wait_until(cond: Any, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_mid_job_loses_nothing_and_the_job_completes_once(stack: dict[str, Any],
                                                                          llm: ScriptedLLM) -> None:
    srv, engine = stack["server"], stack["engine"]

    def slow(body: dict[str, Any]) -> Reply:
        r = verdict()(body)
        r.delay_s = 8.0  # the first worker dies while it waits for this answer
        return r

    llm.script(judged(slow), judged(verdict()), narrated(narration()))
    d = httpx.post(f"{srv.url}/v1/decisions", json=event(), timeout=60, headers=srv.headers).json()
    assert d["explanation"]["status"] == "pending"
    first = start_worker(stack, "worker-a")
    try:
        llm.wait_requests(1, timeout=60)
        job = job_of(engine, d["id"])
        assert job is not None and job["status"] == "running" and job["attempts"] == 1
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        stop_worker(first)
    second = start_worker(stack, "worker-b")
    try:
        wait_until(lambda: (job_of(engine, d["id"]) or {}).get("status") == "done", 60, "the job to complete")
        time.sleep(0.5)  # anything that would complete it a second time has had its chance
    finally:
        stop_worker(second)
    job = job_of(engine, d["id"])
    assert job is not None and job["attempts"] == 2 and job["lease_owner"] is None
    exp = httpx.get(f"{srv.url}/v1/decisions/{d['id']}/explanation", headers=srv.headers).json()
    assert exp["status"] == "ready" and exp["provider"] == "overseer" and exp["job"]["attempts"] == 2
    events = audit_of(engine, d["id"])
    completed = [e for e in events if e["action"] == "explanation.completed"]
    assert len(completed) == 1 and completed[0]["job_attempt"] == 2
    assert {e["job_attempt"] for e in events if e["action"] == "overseer.proposal"} == {2}
    assert len([r for r in llm.requests if NARRATE in r["raw"]]) == 1


def test_several_workers_share_the_queue_and_run_each_job_once(stack: dict[str, Any], llm: ScriptedLLM) -> None:
    srv, engine = stack["server"], stack["engine"]
    good_verdict, good_narration = verdict(), narration()
    llm.script()
    llm.default = lambda body: good_verdict(body) if JUDGE in str(body.get("response_format")) else good_narration(body)
    try:
        r = httpx.post(f"{srv.url}/v1/decisions:batch", json={"events": [event(i) for i in range(12)]}, timeout=60,
                       headers=srv.headers)
        ids = [d["id"] for d in r.json()["decisions"]]
        workers = [start_worker(stack, f"pool-{k}", workers=3) for k in range(2)]
        try:
            wait_until(lambda: all((job_of(engine, i) or {}).get("status") == "done" for i in ids), 90, "all jobs")
        finally:
            for w in workers:
                stop_worker(w)
    finally:
        llm.default = None
    for i in ids:
        completed = [e for e in audit_of(engine, i) if e["action"] == "explanation.completed"]
        assert len(completed) == 1 and job_of(engine, i)["attempts"] == 1  # type: ignore[index]
    assert len([r for r in llm.requests if JUDGE in r["raw"]]) == 12
    assert len([r for r in llm.requests if NARRATE in r["raw"]]) == 12
