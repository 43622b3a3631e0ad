"""Router state versions and feedback rows (with their audit events), and the logs offline evaluation reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from store.audit import AuditRecord, append
from store.ids import new_id, now_iso
from store.tables import DecisionRow, FeedbackRow, RouterStateRow

STATES = RouterStateRow.__table__  # type: ignore[attr-defined]
FEEDBACK = FeedbackRow.__table__  # type: ignore[attr-defined]
DECISIONS = DecisionRow.__table__  # type: ignore[attr-defined]


def latest_state(engine: Engine, profile: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(STATES).where(STATES.c.profile == profile).order_by(STATES.c.version.desc())
                           .limit(1)).mappings().first()
    return dict(row) if row else None


def save_state(conn: Connection, profile: str, state: dict[str, Any], *, reason: str, updates: int,
               actor: str) -> int:
    current = conn.execute(select(func.max(STATES.c.version)).where(STATES.c.profile == profile)).scalar()
    version = int(current or 0) + 1
    conn.execute(insert(STATES), [{"profile": profile, "version": version, "created_at": now_iso(), "reason": reason,
                                   "updates": updates, "state": state}])
    append(conn, [AuditRecord(actor, "router.updated", "router", profile,
                              {"version": version, "reason": reason, "updates": updates})])
    return version


def record_feedback(conn: Connection, row: dict[str, Any]) -> str:
    row = {"id": new_id("fbk"), "created_at": now_iso(), **row}
    conn.execute(insert(FEEDBACK), [row])
    append(conn, [AuditRecord(row["actor"], "feedback.recorded", "decision", row["decision_id"], {
        "feedback_id": row["id"], "outcome": row["outcome"], "source": row["source"], "reward": row["reward"],
        "arm": row["arm"], "propensity": row["propensity"], "note": row["note"]})])
    return row["id"]


def feedback_logs(engine: Engine, profile: str, limit: int = 50_000) -> list[dict[str, Any]]:
    """Logged (context, arm, propensity, reward, outcome, model scores) of decisions that have feedback."""
    q = (select(FEEDBACK.c.arm, FEEDBACK.c.propensity, FEEDBACK.c.reward, FEEDBACK.c.outcome, DECISIONS.c.router,
                DECISIONS.c.outputs)
         .join(DECISIONS, DECISIONS.c.id == FEEDBACK.c.decision_id)
         .where(FEEDBACK.c.profile == profile).order_by(FEEDBACK.c.created_at).limit(limit))
    out = []
    with engine.connect() as conn:
        for r in conn.execute(q).mappings():
            scores = {m["name"]: m["score"] for m in r["outputs"]["models"] if m.get("score") is not None}
            out.append({"context": r["router"]["context"], "arm": r["arm"], "propensity": r["propensity"],
                        "reward": r["reward"], "outcome": r["outcome"], "model_scores": scores})
    return out


def feedback_for(engine: Engine, decision_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(FEEDBACK).where(FEEDBACK.c.decision_id == decision_id)
                                              .order_by(FEEDBACK.c.created_at)).mappings()]


def labelled_decisions(engine: Engine, profile: str) -> list[dict[str, Any]]:
    """Decisions with feedback (reviews win over API outcomes; the latest of each kind): their stored model
    inputs and outputs, and the outcome, for the next training of the classifiers and the meta-classifier."""
    q = (select(FEEDBACK.c.decision_id, FEEDBACK.c.outcome, FEEDBACK.c.source, DECISIONS.c.outputs,
                DECISIONS.c.event_ts, DECISIONS.c.created_at)
         .join(DECISIONS, DECISIONS.c.id == FEEDBACK.c.decision_id)
         .where(FEEDBACK.c.profile == profile).order_by(FEEDBACK.c.created_at))
    latest: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(q).mappings():
            prev = latest.get(r["decision_id"])
            if prev is not None and prev["source"] == "review" and r["source"] != "review":
                continue
            if not (r["outputs"] or {}).get("replay"):
                continue
            latest[r["decision_id"]] = dict(r)
    return list(latest.values())
