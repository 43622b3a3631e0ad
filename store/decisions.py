"""Decision rows: written with their audit events and stream states in one transaction; read back as dicts."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, cast

import orjson
from sqlalchemy import Engine, select

from core.domain import Decision
from store import audit
from store.alerts import open_or_join
from store.audit import AuditRecord, canonical, sha256_text
from store.bulk import insert_rows
from store.engine import WriteBusy, write_tx
from store.explanations import ExplanationPolicy, insert_jobs
from store.replay_inputs import save_batch_states
from store.streams import StreamRepository
from store.tables import DecisionRow

DECISIONS = DecisionRow.__table__  # type: ignore[attr-defined]
_OUTPUT_KEYS = ("combine", "models", "quantities", "replay", "rule_errors")  # sorted: the outputs column's key order
_JSON_COLUMNS = frozenset(("inputs", "outputs", "router", "signals", "rules", "governor", "model_versions", "explanation"))
_UNHASHED = ("content_sha256", "explanation", "explanation_status")
_OUTPUT_PREFIXES = tuple(b'"' + k.encode() + b'":' for k in _OUTPUT_KEYS)
_UNSORTED = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_SORTED = orjson.OPT_SORT_KEYS | _UNSORTED


class DecisionDoc(dict[str, Any]):
    """A decision as the graph builds it. The writer attaches `wire`: its JSON parts as serialized for the row
    (orjson fragments), so a response embeds those very bytes instead of serializing the parts again. A copy
    (`{**d}`) is a plain dict without them."""

    __slots__ = ("wire",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wire: dict[str, orjson.Fragment] = {}

    def __reduce__(self) -> tuple[Any, ...]:  # pickle and copy.copy / deepcopy give a plain dict (no fragments)
        return (dict, (dict(self),))


def to_text_row(d: Decision, shared: dict[int, bytes] | None = None) -> dict[str, Any]:
    """The decision's row with every JSON column serialized once (keys sorted) and stored as those very bytes;
    the content hash is taken over the same bytes (orjson.Fragment), so it equals content_hash() of the row
    as read back. The outputs column is its parts' serializations joined in sorted key order (the same bytes
    as serializing it whole). `shared` (id -> bytes) serializes an object shared by a batch's decisions (their
    model versions) once. A DecisionDoc gets its serialized parts in `wire`."""
    fields = cast("dict[str, Any]", d)  # read by name below
    parts = [orjson.dumps(fields[k], option=_SORTED) for k in _OUTPUT_KEYS]
    outputs = b"{" + b",".join(k + p for k, p in zip(_OUTPUT_PREFIXES, parts, strict=True)) + b"}"
    inputs, router, signals, rules, governor, explanation = (
        orjson.dumps(fields[k], option=_SORTED) for k in ("inputs", "router", "signals", "rules", "governor",
                                                          "explanation"))
    versions = _dumps_shared(d["model_versions"], shared)
    fragment = orjson.Fragment
    body: dict[str, Any] = {  # the hashed columns, keys in sorted order: serialized without sorting, the same bytes as sorted
        "action": d["action"], "batch_id": d["batch_id"], "created_at": d["created_at"],
        "disagreement": d["disagreement"], "event_ts": d["event_ts"], "governor": fragment(governor), "id": d["id"],
        "inputs": fragment(inputs), "label": d["label"], "model_versions": fragment(versions),
        "outputs": fragment(outputs), "profile": d["profile"], "request_id": d["request_id"],
        "router": fragment(router), "rules": fragment(rules), "score": d["score"], "severity": d["severity"],
        "signals": fragment(signals), "stream": d["stream"],
    }
    row = {
        "id": d["id"], "created_at": d["created_at"], "profile": d["profile"], "stream": d["stream"],
        "event_ts": d["event_ts"], "request_id": d["request_id"], "batch_id": d["batch_id"], "label": d["label"],
        "severity": d["severity"], "score": d["score"], "action": d["action"], "disagreement": d["disagreement"],
        "inputs": inputs.decode(), "outputs": outputs.decode(), "router": router.decode(),
        "signals": signals.decode(), "rules": rules.decode(), "governor": governor.decode(),
        "model_versions": versions.decode(), "explanation": explanation.decode(),
        "explanation_status": d["explanation"]["status"],
        "content_sha256": hashlib.sha256(orjson.dumps(body, option=_UNSORTED)).hexdigest(),
    }
    if isinstance(d, DecisionDoc):
        d.wire = {"inputs": body["inputs"], "models": fragment(parts[_OUTPUT_KEYS.index("models")]),
                  "router": body["router"], "signals": body["signals"], "rules": body["rules"],
                  "governor": body["governor"], "model_versions": body["model_versions"]}
    return row


def _dumps_shared(value: Any, shared: dict[int, bytes] | None) -> bytes:
    if shared is None:
        return orjson.dumps(value, option=_SORTED)
    blob = shared.get(id(value))
    if blob is None:
        blob = shared[id(value)] = orjson.dumps(value, option=_SORTED)
    return blob


def content_hash(row: dict[str, Any]) -> str:
    """sha256 of everything a decision row holds except its explanation (which is filled in later)."""
    body = {k: v for k, v in row.items() if k not in _UNHASHED}
    return sha256_text(canonical(body))


def stored_content_hash(row: dict[str, Any]) -> str:
    """content_hash() of a row read with its JSON columns as their stored text, without parsing them (the audit
    verifier's fast path): the same hash as long as the text is as written (keys sorted, orjson's formatting)."""
    body = {k: orjson.Fragment(row[k]) if k in _JSON_COLUMNS else row[k] for k in sorted(row) if k not in _UNHASHED}
    return hashlib.sha256(orjson.dumps(body, option=_UNSORTED)).hexdigest()


def parse_stored(row: dict[str, Any]) -> dict[str, Any]:
    """A row read with its JSON columns as text, with them parsed (what a plain select gives)."""
    return {k: orjson.loads(v) if k in _JSON_COLUMNS and isinstance(v, str) else v for k, v in row.items()}


def from_row(row: dict[str, Any]) -> Decision:
    out = {k: row[k] for k in ("id", "created_at", "profile", "stream", "event_ts", "request_id", "batch_id", "label",
                               "severity", "score", "action", "disagreement", "inputs", "router", "signals", "rules",
                               "governor", "model_versions", "explanation", "content_sha256")}
    out.update(row["outputs"])
    return cast(Decision, out)


def audit_payload(d: Decision, sha: str) -> dict[str, Any]:
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

    def write_batch(self, profile: str, decisions: list[Decision], stream_items: list[Any], actor: str,
                    batch_states: list[dict[str, Any]] | None = None, *, wait: bool = True) -> bool:
        """Commit the batch; True once written. wait=False writes only if the transaction can start at once
        (see write_tx) and otherwise returns False, having written nothing."""
        jobs = self.explain.plan(decisions)  # sets each explanation's status; jobs commit with their decisions
        shared: dict[int, bytes] = {}  # lives while `decisions` does, so no id is reused meanwhile
        rows = [to_text_row(d, shared) for d in decisions]
        records = [AuditRecord(actor, "decision.recorded", "decision", d["id"], audit_payload(d, r["content_sha256"]))
                   for d, r in zip(decisions, rows, strict=True)]
        try:
            with write_tx(self.engine, wait=wait) as conn:  # only its start raises WriteBusy
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
        except WriteBusy:
            return False
        for d, r in zip(decisions, rows, strict=True):
            d["content_sha256"] = r["content_sha256"]
        if jobs and self.on_jobs is not None:
            self.on_jobs()
        if triage and self.on_alerts is not None:
            self.on_alerts(triage)
        return True


def get_decision(engine: Engine, decision_id: str) -> Decision | None:
    with engine.connect() as conn:
        row = conn.execute(select(DECISIONS).where(DECISIONS.c.id == decision_id)).mappings().first()
    return from_row(dict(row)) if row else None


def count_decisions(engine: Engine) -> int:
    from sqlalchemy import func

    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(DECISIONS)).scalar_one())


def decisions_of_batch(engine: Engine, batch_id: str) -> list[Decision]:
    """Every decision of one micro-batch, in the batch's order."""
    with engine.connect() as conn:
        rows = [from_row(dict(r)) for r in conn.execute(select(DECISIONS).where(DECISIONS.c.batch_id == batch_id))
                .mappings()]
    return sorted(rows, key=lambda d: (d.get("replay") or {}).get("i", 0))
