"""Leased job queues on SQLite and PostgreSQL: exclusive claims, expired leases re-claimed, completion only by
the current lease holder, exponential backoff, dead letters."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select, text

from store.engine import init_db, make_engine, write_tx
from store.explanations import JOBS, ExplanationPolicy
from store.jobs import LeaseQueue
from tests.helpers import pg_schema_url, sqlite_url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "jobs.db")
    else:
        base = os.environ.get("STUDIO_TEST_DATABASE_URL")
        if not base:
            pytest.skip("PostgreSQL tests need STUDIO_TEST_DATABASE_URL")
        schema = f"t_{uuid.uuid4().hex[:10]}"
        url = pg_schema_url(base, schema)
    eng = make_engine(url)
    init_db(eng)
    yield eng
    eng.dispose()
    if request.param == "postgresql":
        admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def enqueue(engine, n: int, max_attempts: int = 3) -> list[str]:  # type: ignore[no-untyped-def]
    policy = ExplanationPolicy(llm=True, max_attempts=max_attempts)
    jobs = [policy.job(f"dec_{i}_{uuid.uuid4().hex[:6]}", "peg", "test") for i in range(n)]
    with write_tx(engine) as conn:
        conn.execute(insert(JOBS), jobs)
    return [j["id"] for j in jobs]


def status(engine, job_id: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    with engine.connect() as conn:
        return dict(conn.execute(select(JOBS).where(JOBS.c.id == job_id)).mappings().one())


def test_concurrent_claims_never_share_a_job(engine) -> None:  # type: ignore[no-untyped-def]
    ids = enqueue(engine, 40)
    q = LeaseQueue(engine, JOBS, lease_s=60, backoff_s=0)

    def drain(owner: str) -> list[str]:
        got = []
        while leases := q.claim(owner, limit=3):
            for lease in leases:
                with write_tx(engine) as conn:
                    assert q.finish(conn, lease)
                got.append(lease.id)
        return got

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(drain, [f"w{i}" for i in range(6)]))
    claimed = [j for r in results for j in r]
    assert sorted(claimed) == sorted(ids)  # every job once, none twice
    assert all(status(engine, j)["status"] == "done" for j in ids)


def test_an_expired_lease_is_reclaimed_and_the_old_holder_cannot_finish(engine) -> None:  # type: ignore[no-untyped-def]
    [job] = enqueue(engine, 1)
    q = LeaseQueue(engine, JOBS, lease_s=0.3, backoff_s=0)
    [first] = q.claim("killed-worker")
    assert q.claim("other") == []  # leased
    time.sleep(0.4)
    [second] = q.claim("other")
    assert second.id == job and second.attempt == 2
    assert not q.heartbeat(first)
    with write_tx(engine) as conn:
        assert not q.finish(conn, first)  # the old holder's result is refused
    with write_tx(engine) as conn:
        assert q.finish(conn, second)
    row = status(engine, job)
    assert row["status"] == "done" and row["attempts"] == 2 and row["lease_owner"] is None


def test_failures_back_off_then_go_dead(engine) -> None:  # type: ignore[no-untyped-def]
    [job] = enqueue(engine, 1, max_attempts=2)
    q = LeaseQueue(engine, JOBS, lease_s=30, backoff_s=0.3)
    [lease] = q.claim("w")
    with write_tx(engine) as conn:
        assert q.fail(conn, lease, "timeout") == "failed"
    row = status(engine, job)
    assert row["status"] == "failed" and row["last_error"] == "timeout" and row["run_at"] > row["updated_at"]
    assert q.claim("w") == []  # backing off
    time.sleep(0.35)
    [lease] = q.claim("w")
    assert q.heartbeat(lease)
    with write_tx(engine) as conn:
        assert q.fail(conn, lease, "timeout again") == "dead"
    assert status(engine, job)["status"] == "dead" and q.claim("w") == []
    assert q.backoff(1) == 0.3 and q.backoff(3) == 1.2


def test_release_gives_a_job_back_without_counting_the_attempt(engine) -> None:  # type: ignore[no-untyped-def]
    [job] = enqueue(engine, 1)
    q = LeaseQueue(engine, JOBS, lease_s=30, backoff_s=0)
    [lease] = q.claim("w")
    q.release(lease)
    [again] = q.claim("w2")
    assert again.id == job and again.attempt == 1
