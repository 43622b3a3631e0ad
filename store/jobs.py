"""Durable leased job queues in the database: claim (FOR UPDATE SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on
SQLite), heartbeat, guarded completion (only the current lease holder may finish), backoff, dead letters."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, or_, select, update

from store.engine import write_tx
from store.ids import iso, ulid, utcnow

RUNNABLE = ("queued", "failed")
TERMINAL = ("done", "dead")


def worker_id(prefix: str = "w") -> str:
    """Unique per worker: host, process and a random suffix (a restarted process never reuses a lease)."""
    return f"{prefix}:{socket.gethostname()}:{os.getpid()}:{ulid()[-6:]}"


def at(seconds_from_now: float) -> str:
    return iso(utcnow() + timedelta(seconds=seconds_from_now))


@dataclass
class Lease:
    """A claimed job: the row as claimed and the (owner, attempt) pair that guards its completion."""

    id: str
    owner: str
    attempt: int
    row: dict[str, Any]

    @property
    def max_attempts(self) -> int:
        return int(self.row["max_attempts"])


class LeaseQueue:
    """One table of jobs with lease columns (status, attempts, max_attempts, run_at, lease_owner, lease_until)."""

    def __init__(self, engine: Engine, table: Table, *, lease_s: float, backoff_s: float,
                 backoff_max_s: float = 300.0) -> None:
        self.engine = engine
        self.t = table
        self.lease_s = lease_s
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s

    def _claimable(self, now: str) -> Any:
        t = self.t
        return or_(and_(t.c.status.in_(RUNNABLE), t.c.run_at <= now),
                   and_(t.c.status == "running", t.c.lease_until < now))

    def has_work(self) -> bool:
        """A cheap read (no write lock): is anything claimable now?"""
        with self.engine.connect() as conn:
            return conn.execute(select(self.t.c.id).where(self._claimable(iso(utcnow()))).limit(1)).first() is not None

    def claim(self, owner: str, limit: int = 1) -> list[Lease]:
        """Lease up to `limit` jobs: runnable ones whose time has come, and running ones whose lease expired."""
        if not self.has_work():
            return []
        t = self.t
        now = utcnow()
        until = iso(now + timedelta(seconds=self.lease_s))
        with write_tx(self.engine) as conn:
            rows = conn.execute(select(t).where(self._claimable(iso(now))).order_by(t.c.run_at).limit(limit)
                                .with_for_update(skip_locked=True)).mappings().all()
            leases = []
            for row in rows:
                attempt = int(row["attempts"]) + 1
                conn.execute(update(t).where(t.c.id == row["id"]).values(
                    status="running", attempts=attempt, lease_owner=owner, lease_until=until, updated_at=iso(now)))
                leases.append(Lease(id=row["id"], owner=owner, attempt=attempt,
                                    row={**row, "status": "running", "attempts": attempt}))
        return leases

    def _mine(self, lease: Lease) -> Any:
        t = self.t
        return and_(t.c.id == lease.id, t.c.status == "running", t.c.lease_owner == lease.owner,
                    t.c.attempts == lease.attempt)

    def heartbeat(self, lease: Lease) -> bool:
        """Extend the lease; False when it was lost (expired and re-claimed by another worker)."""
        with write_tx(self.engine) as conn:
            res = conn.execute(update(self.t).where(self._mine(lease)).values(lease_until=at(self.lease_s)))
        return res.rowcount == 1

    def finish(self, conn: Connection, lease: Lease, status: str = "done", **values: Any) -> bool:
        """Mark the job finished inside the caller's transaction, only if this lease still holds it.
        The caller writes the job's results in the same transaction and rolls back when this returns False."""
        now = iso(utcnow())
        res = conn.execute(update(self.t).where(self._mine(lease)).values(
            status=status, lease_owner=None, lease_until=None, updated_at=now, finished_at=now, **values))
        return res.rowcount == 1

    def backoff(self, attempt: int) -> float:
        return min(self.backoff_max_s, self.backoff_s * 2.0 ** max(0, attempt - 1))

    def fail(self, conn: Connection, lease: Lease, error: str, *, final: bool = False) -> str | None:
        """Record a failed attempt: `failed` with exponential backoff, or `dead` after the last attempt (or a
        `final` one). Returns the new status, or None if the lease was lost."""
        dead = final or lease.attempt >= lease.max_attempts
        now = iso(utcnow())
        values: dict[str, Any] = {"status": "dead" if dead else "failed", "last_error": error[:500],
                                  "lease_owner": None, "lease_until": None, "updated_at": now}
        if dead:
            values["finished_at"] = now
        else:
            values["run_at"] = at(self.backoff(lease.attempt))
        res = conn.execute(update(self.t).where(self._mine(lease)).values(**values))
        return values["status"] if res.rowcount == 1 else None

    def release(self, lease: Lease) -> None:
        """Give a job back unfinished (graceful shutdown): claimable again at once, the attempt not counted."""
        with write_tx(self.engine) as conn:
            conn.execute(update(self.t).where(self._mine(lease)).values(
                status="queued", attempts=lease.attempt - 1, lease_owner=None, lease_until=None,
                run_at=iso(utcnow())))

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(self.t).where(self.t.c.id == job_id)).mappings().first()
        return dict(row) if row else None


def counts_by_status(engine: Engine, table: Table) -> dict[str, int]:
    """How many jobs are in each state (for health and operators)."""
    from sqlalchemy import func, select

    with engine.connect() as conn:
        return {str(s): int(n) for s, n in conn.execute(select(table.c.status, func.count()).group_by(table.c.status))}
