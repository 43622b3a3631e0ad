"""A decision's trail: everything that happened to it, in order, from its row, its explanation and the audit
events that reference it (its own, its alerts' and their reviews', its feedback)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from core.domain import AuditEvent, Decision
from store.alerts import alerts_of_decision
from store.audit_queries import MAX_LIMIT, list_events
from store.decisions import DECISIONS, content_hash, get_decision

MAX_EVENTS = 5000
KINDS = {"decision.recorded": "decision", "overseer.proposal": "llm_proposal", "explanation.completed": "llm_ruling",
         "feedback.recorded": "feedback"}


def kind_of(action: str) -> str:
    if action in KINDS:
        return KINDS[action]
    return action.split(".", 1)[0]  # alert, review, explanation, ...


def _events(engine: Engine, **filters: Any) -> list[AuditEvent]:
    out: list[AuditEvent] = []
    after = 0
    while len(out) < MAX_EVENTS:
        page = list_events(engine, after_seq=after, limit=MAX_LIMIT, **filters)
        out.extend(page)
        if len(page) < MAX_LIMIT:
            break
        after = page[-1]["seq"]
    return out


def _stored_hash_ok(engine: Engine, decision_id: str, recorded: str | None) -> bool | None:
    with engine.connect() as conn:
        row = conn.execute(select(DECISIONS).where(DECISIONS.c.id == decision_id)).mappings().first()
    if row is None or recorded is None:
        return None
    return content_hash(dict(row)) == row["content_sha256"] == recorded


def steps_of(d: Decision) -> list[dict[str, Any]]:
    """What the decision row itself records, in the order the graph produced it."""
    at = d["created_at"]
    gov, router, exp = d["governor"], d["router"], d.get("explanation") or {}
    return [
        {"step": "inputs", "at": at, "inputs": d["inputs"], "request_id": d["request_id"], "batch_id": d["batch_id"]},
        {"step": "model_versions", "at": at, "versions": d["model_versions"]},
        {"step": "model_outputs", "at": at, "models": [
            {k: m.get(k) for k in ("name", "family", "version", "status", "score", "raw", "error")}
            for m in d.get("models", [])]},
        {"step": "router", "at": at, **{k: router.get(k) for k in ("arm", "propensity", "explored", "router_version",
                                                                   "trusted")}},
        {"step": "rules", "at": at, "fired": d["rules"], "signals": d["signals"]},
        {"step": "governor", "at": at, **{k: gov.get(k) for k in ("action", "severity", "label", "actions",
                                                                  "hard_floor", "ask_overseer", "overseer_reasons")}},
        {"step": "decision", "at": at, "score": d["score"], "disagreement": d["disagreement"], "action": d["action"],
         "severity": d["severity"], "label": d["label"], "content_sha256": d["content_sha256"]},
        {"step": "explanation", "at": exp.get("completed_at") or at,
         **{k: exp.get(k) for k in ("status", "provider", "model", "verdict", "checks", "governor_overrode_llm",
                                    "prompt_versions", "notice")}},
    ]


def build(engine: Engine, decision_id: str) -> dict[str, Any] | None:
    d = get_decision(engine, decision_id)
    if d is None:
        return None
    events = _events(engine, subject_type="decision", subject_id=decision_id)
    alert_ids = alerts_of_decision(engine, decision_id)
    for alert_id in alert_ids:
        for e in _events(engine, subject_type="alert", subject_id=alert_id):
            joined_by_other = e["action"] in ("alert.joined", "alert.escalated", "alert.opened") and \
                e["payload"].get("decision_id") != decision_id
            if not joined_by_other:
                events.append(e)
    events.sort(key=lambda e: e["seq"])
    recorded = next((e["payload"].get("content_sha256") for e in events if e["action"] == "decision.recorded"), None)
    return {
        "decision_id": decision_id, "profile": d["profile"], "stream": d["stream"], "created_at": d["created_at"],
        "content_sha256_ok": _stored_hash_ok(engine, decision_id, recorded),
        "alerts": alert_ids, "steps": steps_of(d),
        "events": [{"seq": e["seq"], "ts": e["ts"], "kind": kind_of(e["action"]), "action": e["action"],
                    "actor": e["actor"], "subject_type": e["subject_type"], "subject_id": e["subject_id"],
                    "payload": e["payload"], "hash": e["hash"]} for e in events],
    }
