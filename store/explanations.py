"""Explanations: which decisions get a job (enqueued with the decision), reading them back, completing them
under the job's lease together with their audit events and webhook deliveries, and stream history."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.domain import Decision
from store import audit, webhooks
from store.audit import AuditRecord
from store.engine import write_tx
from store.ids import new_id, now_iso
from store.jobs import Lease, LeaseQueue
from store.tables import DecisionRow, ExplanationJobRow

DECISIONS = DecisionRow.__table__  # type: ignore[attr-defined]
JOBS = ExplanationJobRow.__table__  # type: ignore[attr-defined]
TERMINAL = ("ready", "failed")
NOTICES = {
    "pending": "Interim explanation by the template narrator; the overseer's explanation is pending.",
    "not_asked": "Written by the template narrator: the overseer explains alert, critical and review decisions "
                 "and the ones the governor flags (POST with ?explain=wait asks for one).",
    "overseer": "Written by the overseer LLM and checked by the governor.",
    "overridden": "The overseer's answer failed the governor's checks twice; this explanation is written by the "
                  "template narrator.",
    "failed": "The overseer could not be reached; this explanation is written by the template narrator.",
    "circuit_open": "The overseer LLM is failing (its circuit breaker is open, so it was not called); this "
                    "explanation is written by the template narrator.",
}


class LostLease(Exception):
    """The job was re-claimed by another worker: this worker's result is discarded."""


@dataclass(frozen=True)
class ExplanationPolicy:
    """Which decisions get an overseer job when they are written (only when an LLM endpoint is configured)."""

    llm: bool
    actions: frozenset[str] = frozenset({"alert", "critical", "review"})
    max_attempts: int = 4

    def reason(self, d: Decision) -> str | None:
        if not self.llm:
            return None
        if d["governor"].get("ask_overseer"):
            return "ask_overseer"
        return f"action:{d['action']}" if d["action"] in self.actions else None

    def job(self, decision_id: str, profile: str, reason: str) -> dict[str, Any]:
        now = now_iso()
        return {"id": new_id("job"), "decision_id": decision_id, "profile": profile, "reason": reason,
                "status": "queued", "attempts": 0, "max_attempts": self.max_attempts, "run_at": now,
                "created_at": now, "updated_at": now}

    def plan(self, decisions: list[Decision]) -> list[dict[str, Any]]:
        """Set each decision's initial explanation status; return the job rows to insert with the batch."""
        jobs = []
        for d in decisions:
            exp = d["explanation"]
            reason = self.reason(d)
            if reason is None:
                exp["status"] = "ready"  # without an LLM the template notice already says so
                if self.llm:
                    exp["notice"] = NOTICES["not_asked"]
            else:
                exp.update({"status": "pending", "notice": NOTICES["pending"]})
                jobs.append(self.job(d["id"], d["profile"], reason))
        return jobs


def insert_jobs(conn: Connection, jobs: list[dict[str, Any]]) -> None:
    if jobs:
        conn.execute(insert(JOBS), jobs)


def job_of(conn: Connection, decision_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(JOBS).where(JOBS.c.decision_id == decision_id)).mappings().first()
    return dict(row) if row else None


def read(engine: Engine, decision_id: str) -> dict[str, Any] | None:
    """{"explanation": ..., "job": ... | None}, or None when there is no such decision."""
    with engine.connect() as conn:
        exp = conn.execute(select(DECISIONS.c.explanation).where(DECISIONS.c.id == decision_id)).scalar_one_or_none()
        if exp is None:
            return None
        return {"explanation": exp, "job": job_of(conn, decision_id)}


def request(engine: Engine, decision_id: str, policy: ExplanationPolicy, actor: str) -> dict[str, Any] | None:
    """Enqueue an on-demand job for a decision that has none (explain=wait); returns the job (new or existing)."""
    try:
        with write_tx(engine) as conn:
            existing = job_of(conn, decision_id)
            if existing is not None:
                return existing
            row = conn.execute(select(DECISIONS.c.profile, DECISIONS.c.explanation)
                               .where(DECISIONS.c.id == decision_id)).first()
            if row is None:
                return None
            job = policy.job(decision_id, row[0], "on_demand")
            conn.execute(insert(JOBS), [job])
            exp = {**row[1], "status": "pending", "notice": NOTICES["pending"]}
            conn.execute(update(DECISIONS).where(DECISIONS.c.id == decision_id)
                         .values(explanation=exp, explanation_status="pending"))
            audit.append(conn, [AuditRecord(actor, "explanation.requested", "decision", decision_id,
                                            {"decision_id": decision_id, "job_id": job["id"]})])
            return job
    except IntegrityError:  # a concurrent request won the race (PostgreSQL)
        with engine.connect() as conn:
            return job_of(conn, decision_id)


def _write(conn: Connection, decision_id: str, explanation: dict[str, Any], records: list[AuditRecord],
           webhook_attempts: int) -> None:
    conn.execute(update(DECISIONS).where(DECISIONS.c.id == decision_id)
                 .values(explanation=explanation, explanation_status=explanation["status"]))
    audit.append(conn, records)
    if explanation["status"] in TERMINAL:
        event = "explanation.ready" if explanation["status"] == "ready" else "explanation.failed"
        webhooks.enqueue(conn, event=event, subject_id=decision_id, max_attempts=webhook_attempts,
                         data={"decision_id": decision_id, "explanation": explanation})


def complete(queue: LeaseQueue, lease: Lease, *, decision_id: str, explanation: dict[str, Any],
             records: list[AuditRecord], webhook_attempts: int) -> bool:
    """The explanation, its audit events and webhook deliveries, committed only if this lease still holds the
    job: a job completes exactly once even when a slow worker and its successor both finish."""
    try:
        with write_tx(queue.engine) as conn:
            if not queue.finish(conn, lease, "done"):
                raise LostLease(lease.id)
            _write(conn, decision_id, explanation, records, webhook_attempts)
    except LostLease:
        return False
    return True


def fail(queue: LeaseQueue, lease: Lease, *, decision_id: str, error: str, fallback: dict[str, Any],
         records: list[AuditRecord], webhook_attempts: int, final: bool = False) -> str | None:
    """A failed attempt: retried later with backoff, or, after the last one (or a `final` one), `dead` and the
    decision keeps the fallback explanation with status `failed`. Returns the job's new status (None: the lease
    was lost)."""
    with write_tx(queue.engine) as conn:
        status = queue.fail(conn, lease, error, final=final)
        if status is None:
            return None
        if status == "dead" and fallback:
            _write(conn, decision_id, fallback, records, webhook_attempts)
        else:
            audit.append(conn, records)
    return status


def stream_history(engine: Engine, decision: Decision, limit: int = 50) -> dict[str, Any]:
    """A summary of the stream's recent decisions before this one (actions, scores, values)."""
    if not decision["stream"]:
        return {"decisions": 0, "note": "no stream: a tabular event"}
    d = DECISIONS.c
    with engine.connect() as conn:
        rows = conn.execute(select(d.created_at, d.action, d.score, d.inputs)
                            .where(d.profile == decision["profile"], d.stream == decision["stream"],
                                   d.created_at <= decision["created_at"], d.id != decision["id"])
                            .order_by(d.created_at.desc()).limit(limit)).all()
    if not rows:
        return {"decisions": 0, "note": "first decision of this stream"}
    values = [r[3].get("value") for r in rows if isinstance(r[3].get("value"), (int, float))]
    scores = [float(r[2]) for r in rows]
    alerts = [r[0] for r in rows if r[1] in ("alert", "critical", "review")]
    out: dict[str, Any] = {"decisions": len(rows), "since": rows[-1][0], "actions": dict(Counter(r[1] for r in rows)),
                           "score_mean": round(sum(scores) / len(scores), 4), "score_max": round(max(scores), 4),
                           "last_alert_at": alerts[0] if alerts else None}
    if values:
        out.update(value_last=values[0], value_min=min(values), value_max=max(values))
    return out
