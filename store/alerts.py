"""Alerts: opened or joined in the decision batch's own transaction (dedup by profile, stream or entity, and rule
within a sliding window; snoozes hold unless severity rises: the rules are policies/alerting.py's), and read back
with filters and keyset pages."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, RowMapping, and_, bindparam, func, insert, select, update

from core.domain import Alert, AlertDetail, Decision
from policies.alerting import ALERTING, dedup_key, join_alert, new_alert
from store.audit import AuditRecord, append
from store.bulk import insert_rows
from store.ids import iso, new_id, now_iso, utcnow
from store.tables import AlertCommentRow, AlertDecisionRow, AlertRow

ALERTS = AlertRow.__table__  # type: ignore[attr-defined]
LINKS = AlertDecisionRow.__table__  # type: ignore[attr-defined]
COMMENTS = AlertCommentRow.__table__  # type: ignore[attr-defined]
STATES = ("open", "acknowledged", "resolved")
MAX_LIMIT = 200


def ago(seconds: float) -> str:
    return iso(utcnow() - timedelta(seconds=seconds))


def _record(actor: str, action: str, row: Alert, d: Decision, **extra: Any) -> AuditRecord:
    return AuditRecord(actor, action, "alert", row["id"], {
        "alert_id": row["id"], "decision_id": d["id"], "dedup_key": row["dedup_key"], "profile": row["profile"],
        "stream": row["stream"], "entity": row["entity"], "rule": row["rule"], "decision_action": d["action"],
        "decision_severity": d["severity"], "alert_severity": row["severity"], "state": row["state"], **extra})


def _join(row: Alert, d: Decision, actor: str) -> tuple[AuditRecord, bool]:
    """Add decision d to an unresolved alert (policies/alerting.py's rules); its audit record and whether a
    snooze suppressed it."""
    joined = join_alert(row, d)
    return _record(actor, joined.action, row, d, **joined.extra), joined.suppressed


_UPDATE_BY_ID = update(ALERTS).where(ALERTS.c.id == bindparam("_id"))


def as_alert(row: RowMapping | Mapping[str, Any]) -> Alert:
    """An alerts row as the domain's Alert (the table has exactly its fields)."""
    return cast(Alert, dict(row))


def _unresolved(conn: Connection, keys: list[str], cutoff: str) -> dict[str, Alert]:
    """The unresolved alert of each key seen since cutoff (the most recently seen one), in one query."""
    found: dict[str, Alert] = {}
    rows = conn.execute(select(ALERTS).where(ALERTS.c.dedup_key.in_(keys), ALERTS.c.state != "resolved",
                                             ALERTS.c.last_seen_at >= cutoff)
                        .order_by(ALERTS.c.last_seen_at.desc(), ALERTS.c.id.desc())).mappings()
    for r in rows:
        found.setdefault(r["dedup_key"], as_alert(r))
    return found


def open_or_join(conn: Connection, decisions: list[Decision], *, window_s: float, actor: str) -> list[str]:
    """Inside the batch's write transaction (after the decisions' audit events, so the chain lock is held):
    each alerting decision opens an alert or joins the unresolved one with its key seen within the window.
    Returns the ids of alerts that need triage (new, or escalated past their triage)."""
    groups: dict[str, list[tuple[Decision, str | None, str]]] = {}
    for d in decisions:
        if d["action"] in ALERTING:
            key, entity, rule = dedup_key(d)
            groups.setdefault(key, []).append((d, entity, rule))
    if not groups:
        return []
    cutoff = ago(window_s)
    records: list[AuditRecord] = []
    links: list[dict[str, Any]] = []
    to_triage: list[str] = []
    current = _unresolved(conn, list(groups), cutoff)
    inserts: list[Alert] = []
    updates: list[Alert] = []
    for key, items in groups.items():
        row = current.get(key)
        is_new = row is None
        for d, entity, rule in items:
            if row is None:
                row = new_alert(new_id("alr"), d, key, entity, rule)
                records.append(_record(actor, "alert.opened", row, d))
                suppressed = False
            else:
                record, suppressed = _join(row, d, actor)
                records.append(record)
            links.append({"alert_id": row["id"], "decision_id": d["id"], "joined_at": d["created_at"],
                          "action": d["action"], "severity": int(d["severity"]), "suppressed": suppressed})
        assert row is not None
        (inserts if is_new else updates).append(row)
        if row["review_status"] == "pending":
            to_triage.append(row["id"])
    if inserts:
        conn.execute(insert(ALERTS), inserts)
    if updates:  # one statement, compiled once, executed for every joined alert
        conn.execute(_UPDATE_BY_ID, [{**{k: v for k, v in r.items() if k != "id"}, "_id": r["id"]} for r in updates])
    insert_rows(conn, LINKS, links)
    append(conn, records)
    return to_triage


# -- reads ---------------------------------------------------------------------------------------------------


def get(engine: Engine, alert_id: str) -> Alert | None:
    with engine.connect() as conn:
        row = conn.execute(select(ALERTS).where(ALERTS.c.id == alert_id)).mappings().first()
    return as_alert(row) if row else None


def detail(engine: Engine, alert_id: str, *, decisions: int = 100) -> AlertDetail | None:
    """The alert with its decisions (most recent first) and comments."""
    with engine.connect() as conn:
        row = conn.execute(select(ALERTS).where(ALERTS.c.id == alert_id)).mappings().first()
        if row is None:
            return None
        links = conn.execute(select(LINKS).where(LINKS.c.alert_id == alert_id)
                             .order_by(LINKS.c.joined_at.desc(), LINKS.c.decision_id.desc()).limit(decisions)).mappings()
        comments = conn.execute(select(COMMENTS).where(COMMENTS.c.alert_id == alert_id)
                                .order_by(COMMENTS.c.created_at, COMMENTS.c.id)).mappings()
        return AlertDetail(**as_alert(row), decisions=[dict(r) for r in links], comments=[dict(c) for c in comments])


def decision_ids(engine: Engine, alert_id: str, limit: int) -> list[str]:
    """The alert's decisions, oldest first (the one that opened it first), at most `limit` (the most recent)."""
    with engine.connect() as conn:
        rows = conn.execute(select(LINKS.c.decision_id).where(LINKS.c.alert_id == alert_id)
                            .order_by(LINKS.c.joined_at.desc(), LINKS.c.decision_id.desc()).limit(limit)).all()
    return [r[0] for r in reversed(rows)]


def alerts_of_decision(engine: Engine, decision_id: str) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(select(LINKS.c.alert_id).where(LINKS.c.decision_id == decision_id))]


def listing(engine: Engine, *, state: str | None = None, profile: str | None = None, stream: str | None = None,
            min_severity: int | None = None, assignee: str | None = None, since: str | None = None,
            until: str | None = None, review_status: str | None = None, before_id: str | None = None,
            limit: int = 50) -> list[Alert]:
    """Newest first; `before_id` is the cursor (ids sort by creation time)."""
    conds = []
    for col, value in ((ALERTS.c.state, state), (ALERTS.c.profile, profile), (ALERTS.c.stream, stream),
                       (ALERTS.c.assignee, assignee), (ALERTS.c.review_status, review_status)):
        if value is not None:
            conds.append(col == value)
    if min_severity is not None:
        conds.append(ALERTS.c.severity >= min_severity)
    if since:
        conds.append(ALERTS.c.opened_at >= since)
    if until:
        conds.append(ALERTS.c.opened_at < until)
    if before_id:
        conds.append(ALERTS.c.id < before_id)
    q = select(ALERTS).where(and_(*conds)) if conds else select(ALERTS)
    q = q.order_by(ALERTS.c.id.desc()).limit(max(1, min(limit, MAX_LIMIT)))
    with engine.connect() as conn:
        return [as_alert(r) for r in conn.execute(q).mappings()]


def comment(conn: Connection, alert_id: str, author: str, body: str) -> dict[str, Any]:
    row = {"id": new_id("cmt"), "alert_id": alert_id, "author": author, "body": body, "created_at": now_iso()}
    conn.execute(insert(COMMENTS), [row])
    return row


def reviewed_outputs(engine: Engine, limit: int = 100_000) -> list[dict[str, Any]]:
    """For each decision labelled by a review (its latest review label): profile, outcome and model scores."""
    from store.tables import DecisionRow, FeedbackRow

    fb = FeedbackRow.__table__  # type: ignore[attr-defined]
    dec = DecisionRow.__table__  # type: ignore[attr-defined]
    q = (select(fb.c.decision_id, fb.c.outcome, dec.c.profile, dec.c.outputs)
         .join(dec, dec.c.id == fb.c.decision_id).where(fb.c.source == "review")
         .order_by(fb.c.created_at).limit(limit))
    latest: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(q).mappings():
            scores = {m["name"]: m["score"] for m in r["outputs"].get("models", []) if m.get("score") is not None}
            latest[r["decision_id"]] = {"profile": r["profile"], "outcome": float(r["outcome"]), "scores": scores}
    return list(latest.values())


def open_counts(engine: Engine) -> dict[tuple[str, str], int]:
    """Unresolved alerts per (profile, review status): the review queue."""
    q = (select(ALERTS.c.profile, ALERTS.c.review_status, func.count()).where(ALERTS.c.state != "resolved")
         .group_by(ALERTS.c.profile, ALERTS.c.review_status))
    with engine.connect() as conn:
        return {(str(p), str(s)): int(n) for p, s, n in conn.execute(q)}
