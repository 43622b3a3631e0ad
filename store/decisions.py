"""Decision rows: written with their audit events and stream states in one transaction; read back as dicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Engine, select

from store import audit
from store.alerts import open_or_join
from store.audit import AuditRecord, canonical, sha256_text
from store.bulk import insert_rows
from store.engine import write_tx
from store.explanations import ExplanationPolicy, insert_jobs
from store.replay_inputs import save_batch_states
from store.streams import StreamRepository
from store.tables import DecisionRow

DECISIONS = DecisionRow.__table__  # type: ignore[attr-defined]
_OUTPUT_KEYS = ("models", "combine", "quantities", "rule_errors", "replay")
_JSON_COLUMNS = frozenset(("inputs", "outputs", "router", "signals", "rules", "governor", "model_versions", "explanation"))
_UNHASHED = ("content_sha256", "explanation", "explanation_status")
_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _columns(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": d["id"], "created_at": d["created_at"], "profile": d["profile"], "stream": d["stream"],
        "event_ts": d["event_ts"], "request_id": d["request_id"], "batch_id": d["batch_id"], "label": d["label"],
        "severity": d["severity"], "score": d["score"], "action": d["action"], "disagreement": d["disagreement"],
        "inputs": d["inputs"], "outputs": {k: d[k] for k in _OUTPUT_KEYS}, "router": d["router"],
        "signals": d["signals"], "rules": d["rules"], "governor": d["governor"], "model_versions": d["model_versions"],
        "explanation": d["explanation"], "explanation_status": d["explanation"]["status"],
    }


def to_text_row(d: dict[str, Any]) -> dict[str, Any]:
    """The decision's row with every JSON column serialized once (keys sorted) and stored as those very bytes;
    the content hash is taken over the same bytes (orjson.Fragment), so it equals content_hash() of the row
    as read back."""
    row = _columns(d)
    blobs = {k: orjson.dumps(row[k], option=_SORTED) for k in _JSON_COLUMNS}
    body = {k: (orjson.Fragment(blobs[k]) if k in blobs else v) for k, v in row.items() if k not in _UNHASHED}
    row.update({k: b.decode() for k, b in blobs.items()})
    row["content_sha256"] = sha256_text(canonical(body))
    return row


def content_hash(row: dict[str, Any]) -> str:
    """sha256 of everything a decision row holds except its explanation (which is filled in later)."""
    body = {k: v for k, v in row.items() if k not in _UNHASHED}
    return sha256_text(canonical(body))


def from_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in ("id", "created_at", "profile", "stream", "event_ts", "request_id", "batch_id", "label",
                               "severity", "score", "action", "disagreement", "inputs", "router", "signals", "rules",
                               "governor", "model_versions", "explanation", "content_sha256")}
    out.update(row["outputs"])
    return out


def audit_payload(d: dict[str, Any], sha: str) -> dict[str, Any]:
    return {
        "decision_id": d["id"], "profile": d["profile"], "stream": d["stream"], "request_id": d["request_id"],
        "action": d["action"], "severity": d["severity"], "label": d["label"], "score": d["score"],
        "content_sha256": sha, "model_versions": d["model_versions"],
        "router": {"arm": d["router"]["arm"], "propensity": d["router"]["propensity"],
                   "version": d["router"].get("router_version")},
        "rules": [r["rule"] for r in d["rules"]], "governor": [a["rule"] for a in d["governor"]["actions"]],
    }


class DecisionWriter:
    """The one writer of the decision path: a batch's decisions, audit events and stream states commit together."""

    def __init__(self, engine: Engine, explain: ExplanationPolicy | None = None,
                 on_jobs: Callable[[], None] | None = None, alert_window_s: float | None = None,
                 on_alerts: Callable[[list[str]], None] | None = None) -> None:
        self.engine = engine
        self.explain = explain or ExplanationPolicy(llm=False)
        self.on_jobs = on_jobs  # wakes in-process explanation workers after a commit that enqueued jobs
        self.alert_window_s = alert_window_s  # None: no alerts (replays); else the dedup window
        self.on_alerts = on_alerts  # wakes the review triager after a commit that opened or escalated alerts

    def write_batch(self, profile: str, decisions: list[dict[str, Any]], stream_items: list[Any], actor: str,
                    batch_states: list[dict[str, Any]] | None = None) -> None:
        jobs = self.explain.plan(decisions)  # sets each explanation's status; jobs commit with their decisions
        rows = [to_text_row(d) for d in decisions]
        records = [AuditRecord(actor, "decision.recorded", "decision", d["id"], audit_payload(d, r["content_sha256"]))
                   for d, r in zip(decisions, rows, strict=True)]
        with write_tx(self.engine) as conn:
            if rows:
                insert_rows(conn, DECISIONS, rows, serialized=_JSON_COLUMNS)
            audit.append(conn, records)
            triage = (open_or_join(conn, decisions, window_s=self.alert_window_s, actor=actor)
                      if self.alert_window_s is not None else [])
            if stream_items:
                StreamRepository.save(conn, profile, stream_items)
            if batch_states:
                save_batch_states(conn, batch_states)
            insert_jobs(conn, jobs)
        for d, r in zip(decisions, rows, strict=True):
            d["content_sha256"] = r["content_sha256"]
        if jobs and self.on_jobs is not None:
            self.on_jobs()
        if triage and self.on_alerts is not None:
            self.on_alerts(triage)


def get_decision(engine: Engine, decision_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(DECISIONS).where(DECISIONS.c.id == decision_id)).mappings().first()
    return from_row(dict(row)) if row else None


def count_decisions(engine: Engine) -> int:
    from sqlalchemy import func

    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(DECISIONS)).scalar_one())


def decisions_of_batch(engine: Engine, batch_id: str) -> list[dict[str, Any]]:
    """Every decision of one micro-batch, in the batch's order."""
    with engine.connect() as conn:
        rows = [from_row(dict(r)) for r in conn.execute(select(DECISIONS).where(DECISIONS.c.batch_id == batch_id))
                .mappings()]
    return sorted(rows, key=lambda d: (d.get("replay") or {}).get("i", 0))
