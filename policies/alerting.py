"""Alert rules as pure functions of decisions and alert rows: which decisions alert, the dedup key an alert is
kept under (profile + stream or entity + the rule that set the action), a new alert's row, and what joining a
decision does to an unresolved alert (raise its action, escalate through a snooze when severity rises above the
snoozed level, or count as suppressed by it). store/alerts.py applies them inside the batch's transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.domain import Alert, Decision
from policies.rules import ACTION_RANK

ALERTING = frozenset({"alert", "critical", "review"})


def alert_rule(d: Decision) -> str:
    """The rule that set the decision's action: the last governor entry at that action (hard rules come last),
    e.g. peg.hard_depeg, a soft rule, governor.threshold.alert or governor.quorum."""
    actions = [a for a in d["governor"].get("actions", []) if a.get("rule") != "governor.severity_cap"]
    setting = [a for a in actions if a.get("action") == d["action"]]
    if setting:
        return str(setting[-1]["rule"])
    return str(actions[-1]["rule"]) if actions else f"governor.action.{d['action']}"


def entity_of(d: Decision) -> str | None:
    """Tabular events have no stream: the entity in their context (`entity`, else the first `*_id` field)."""
    ctx = (d.get("inputs") or {}).get("context") or {}
    if ctx.get("entity") is not None:
        return str(ctx["entity"])[:200]
    for k in sorted(ctx):
        if k.endswith("_id") and isinstance(ctx[k], (str, int)):
            return f"{k}={ctx[k]}"[:200]
    return None


def dedup_key(d: Decision) -> tuple[str, str | None, str]:
    """(key, entity, rule): profile + stream (or entity) + rule."""
    entity = None if d.get("stream") else entity_of(d)
    rule = alert_rule(d)
    return f"{d['profile']}|{d.get('stream') or entity or '*'}|{rule}", entity, rule


def new_alert(alert_id: str, d: Decision, key: str, entity: str | None, rule: str) -> Alert:
    """The row of an alert that decision d opens."""
    now = d["created_at"]
    return {"id": alert_id, "dedup_key": key, "profile": d["profile"], "stream": d.get("stream"),
            "entity": entity, "rule": rule, "state": "open", "resolution": None, "action": d["action"],
            "severity": int(d["severity"]), "first_decision_id": d["id"], "last_decision_id": d["id"],
            "decision_count": 1, "opened_at": now, "last_seen_at": now, "updated_at": now, "acknowledged_at": None,
            "acknowledged_by": None, "assignee": None, "snoozed_until": None, "snoozed_severity": None,
            "escalations": 0, "resolved_at": None, "resolved_by": None, "duplicate_of": None,
            "review_status": "pending", "review_claimed_at": None, "approval_required": None, "triage": None}


@dataclass
class Joined:
    """What joining a decision did: the audit action, its extra payload, whether a snooze suppressed it."""

    action: str
    suppressed: bool
    extra: dict[str, Any] = field(default_factory=dict)


def join_alert(row: Alert, d: Decision) -> Joined:
    """Add decision d to an unresolved alert row (changed in place): its action rises to d's when higher; a
    snoozed alert escalates (reopens) when d's severity is above the snoozed level, otherwise d is suppressed by
    the snooze; a raised alert is triaged again; severity, count and last-seen follow d."""
    now, sev = d["created_at"], int(d["severity"])
    snoozed = row["snoozed_until"] is not None and row["snoozed_until"] > now
    raised = ACTION_RANK[d["action"]] > ACTION_RANK.get(row["action"], 0)
    if raised:
        row["action"] = d["action"]
    if snoozed and sev > (row["snoozed_severity"] or 0):
        previous = {"state": row["state"], "snoozed_until": row["snoozed_until"],
                    "snoozed_severity": row["snoozed_severity"]}
        row.update({"snoozed_until": None, "snoozed_severity": None, "state": "open",
                    "escalations": row["escalations"] + 1})
        out = Joined("alert.escalated", False, {"previous": previous, "reason": "severity rose above the snoozed level"})
        raised = True
    else:
        out = Joined("alert.joined", snoozed, {"suppressed_by_snooze": snoozed})
    if raised and row["review_status"] == "triaged":
        row["review_status"] = "pending"  # triage again: approval may be required now
    row.update({"severity": max(row["severity"], sev), "decision_count": row["decision_count"] + 1,
                "last_decision_id": d["id"], "last_seen_at": now, "updated_at": now})
    return out
