"""Changes to an alert (acknowledge, assign, snooze, comment, review claims, triage, resolve): each one row
update and its audit event in one transaction, refused when the alert's state does not allow it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, or_, select, update

from core.domain import Alert
from store.alerts import ALERTS, ago, as_alert, comment
from store.audit import AuditRecord, append
from store.engine import write_tx
from store.ids import now_iso

Mutation = Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]


class AlertMissing(Exception):
    pass


class AlertRefused(Exception):
    """The alert's state does not allow the change (e.g. acknowledging a resolved alert)."""


def _locked(conn: Connection, alert_id: str) -> dict[str, Any]:
    q = select(ALERTS).where(ALERTS.c.id == alert_id)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).mappings().first()
    if row is None:
        raise AlertMissing(alert_id)
    return dict(row)


def _payload(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"alert_id": row["id"], "decision_id": row["first_decision_id"], "last_decision_id": row["last_decision_id"],
            "profile": row["profile"], "stream": row["stream"], "rule": row["rule"], **extra}


def mutate(engine: Engine, alert_id: str, *, actor: str, action: str, fn: Mutation) -> Alert:
    """Lock the row, let `fn` compute (values, audit extras) or raise AlertRefused, write both, return the row."""
    with write_tx(engine) as conn:
        row = _locked(conn, alert_id)
        values, extra = fn(row)
        values = {**values, "updated_at": now_iso()}
        conn.execute(update(ALERTS).where(ALERTS.c.id == alert_id).values(values))
        row.update(values)
        append(conn, [AuditRecord(actor, action, "alert", alert_id, _payload(row, state=row["state"], **extra))])
        return as_alert(row)


def _unresolved(row: dict[str, Any], what: str) -> None:
    if row["state"] == "resolved":
        raise AlertRefused(f"the alert is resolved ({row['resolution']}): it cannot be {what}")


def acknowledge(engine: Engine, alert_id: str, *, actor: str) -> Alert:
    def fn(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        _unresolved(row, "acknowledged")
        if row["state"] == "acknowledged":
            raise AlertRefused(f"already acknowledged by {row['acknowledged_by']}")
        return {"state": "acknowledged", "acknowledged_at": now_iso(), "acknowledged_by": actor}, {"previous": "open"}

    return mutate(engine, alert_id, actor=actor, action="alert.acknowledged", fn=fn)


def assign(engine: Engine, alert_id: str, *, assignee: str | None, actor: str) -> Alert:
    def fn(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        _unresolved(row, "assigned")
        return {"assignee": assignee}, {"assignee": assignee, "previous_assignee": row["assignee"]}

    return mutate(engine, alert_id, actor=actor, action="alert.assigned", fn=fn)


def snooze(engine: Engine, alert_id: str, *, until: str, actor: str, reason: str) -> Alert:
    """Hold the alert against new events of its key until `until`, unless their severity rises above today's."""

    def fn(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        _unresolved(row, "snoozed")
        return ({"snoozed_until": until, "snoozed_severity": row["severity"]},
                {"snoozed_until": until, "snoozed_severity": row["severity"], "reason": reason})

    return mutate(engine, alert_id, actor=actor, action="alert.snoozed", fn=fn)


def add_comment(engine: Engine, alert_id: str, *, body: str, actor: str) -> dict[str, Any]:
    with write_tx(engine) as conn:
        row = _locked(conn, alert_id)
        c = comment(conn, alert_id, actor, body)
        conn.execute(update(ALERTS).where(ALERTS.c.id == alert_id).values(updated_at=c["created_at"]))
        append(conn, [AuditRecord(actor, "alert.commented", "alert", alert_id,
                                  _payload(row, comment_id=c["id"], chars=len(body)))])
        return c


def resolve(engine: Engine, alert_id: str, *, resolution: str, actor: str, note: str, duplicate_of: str | None,
            review: dict[str, Any]) -> Alert:
    """The review's last step: resolved with its resolution, and the review (verdict, labels) in the audit."""

    def fn(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        _unresolved(row, "resolved again")
        now = now_iso()
        return ({"state": "resolved", "resolution": resolution, "resolved_at": now, "resolved_by": actor,
                 "duplicate_of": duplicate_of, "snoozed_until": None, "review_status": "done",
                 "review_claimed_at": None},
                {"resolution": resolution, "note": note, "duplicate_of": duplicate_of, **review})

    return mutate(engine, alert_id, actor=actor, action="alert.resolved", fn=fn)


# -- review bookkeeping (no audit: the review graph's own steps are audited) ---------------------------------------


def claim(engine: Engine, alert_id: str, *, to: str, from_statuses: tuple[str, ...], stale_s: float) -> bool:
    """Move review_status to `to` if it is in `from_statuses` (or a claim older than stale_s was abandoned)."""
    stale = ago(stale_s)
    with write_tx(engine) as conn:
        done = conn.execute(update(ALERTS).where(
            ALERTS.c.id == alert_id, ALERTS.c.state != "resolved",
            or_(ALERTS.c.review_status.in_(from_statuses),
                ALERTS.c.review_status.in_(("triaging", "applying")) & (ALERTS.c.review_claimed_at < stale)))
            .values(review_status=to, review_claimed_at=now_iso())).rowcount
    return bool(done)


def set_review_status(engine: Engine, alert_id: str, status: str, *, only_from: str | None = None,
                      **values: Any) -> bool:
    with write_tx(engine) as conn:
        q = update(ALERTS).where(ALERTS.c.id == alert_id)
        if only_from is not None:
            q = q.where(ALERTS.c.review_status == only_from)
        return bool(conn.execute(q.values(review_status=status, review_claimed_at=None, **values)).rowcount)


def record_triage(engine: Engine, alert_id: str, *, triage: dict[str, Any], approval_required: bool,
                  actor: str) -> None:
    """Store the triage on the alert and audit it (with the overseer's verdict when there was one)."""
    with write_tx(engine) as conn:
        row = _locked(conn, alert_id)
        conn.execute(update(ALERTS).where(ALERTS.c.id == alert_id)
                     .values(triage=triage, approval_required=approval_required))
        append(conn, [AuditRecord(actor, "review.triaged", "alert", alert_id, _payload(
            row, approval_required=approval_required, reasons=triage.get("reasons", []),
            overseer_verdict=(triage.get("overseer") or {}).get("verdict")))])


def pending_triage(engine: Engine, *, explanation_wait_s: float, stale_s: float, limit: int = 20) -> list[str]:
    """Alerts waiting for triage whose overseer explanation is final, or has been pending too long."""
    from store.tables import DecisionRow

    decisions = DecisionRow.__table__  # type: ignore[attr-defined]
    waited, stale = ago(explanation_wait_s), ago(stale_s)
    q = (select(ALERTS.c.id).join(decisions, decisions.c.id == ALERTS.c.last_decision_id)
         .where(ALERTS.c.state != "resolved",
                or_((ALERTS.c.review_status == "pending") & ((decisions.c.explanation_status != "pending") |
                                                             (ALERTS.c.updated_at < waited)),
                    (ALERTS.c.review_status == "triaging") & (ALERTS.c.review_claimed_at < stale)))
         .order_by(ALERTS.c.id).limit(limit))
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(q)]
