"""Verify the audit trail end to end: every hash and link, every decision row against its `decision.recorded`
event, the signed checkpoints (truncation) and a head recorded elsewhere. Everything is read in keyset pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Engine, Text, cast, select, text

from store.audit import AUDIT, GENESIS, check_row
from store.audit_checkpoints import HeadFile, Signer, check
from store.decisions import DECISIONS, content_hash, parse_stored, stored_content_hash

DECISION_PAGE = 1000
_SUMMARY = ("action", "severity", "label", "score", "profile", "stream", "request_id")  # in the event's payload
# the hashed columns, JSON ones as their stored text (no parse on the fast path; the explanation is not read)
_HASHED = [cast(c, Text).label(c.name) if isinstance(c.type, JSON) else c for c in DECISIONS.c
           if c.name not in ("explanation", "explanation_status")]


@dataclass
class _Walk:
    prev: str = GENESIS
    expected: int = 1
    checked: int = 0
    head_seq: int = 0
    last_seq: int = 0  # the last event present, broken or not
    first_broken: dict[str, Any] | None = None
    decisions: int = 0
    mismatched: int = 0
    first_mismatch: dict[str, Any] | None = None
    pending: list[tuple[int, str, str]] = field(default_factory=list)  # (seq, decision id, payload)

    def event(self, row: Any) -> None:
        self.last_seq = int(row["seq"])
        if row["action"] == "decision.recorded" and row["subject_type"] == "decision":
            self.pending.append((self.last_seq, row["subject_id"], row["payload"]))
        if self.first_broken is not None:
            return
        problem = check_row(row, self.expected, self.prev)
        if problem:
            self.first_broken = problem
            return
        self.prev, self.expected, self.head_seq = row["hash"], self.last_seq + 1, self.last_seq
        self.checked += 1

    def decisions_against_events(self, conn: Connection) -> None:
        """Recompute the content hash of the pending events' decision rows and compare it with the recorded one."""
        for i in range(0, len(self.pending), DECISION_PAGE):
            page = self.pending[i:i + DECISION_PAGE]
            ids = sorted({d for _, d, _ in page})
            rows = {r["id"]: dict(r) for r in conn.execute(select(*_HASHED).where(DECISIONS.c.id.in_(ids)))
                    .mappings()}
            for seq, decision_id, payload in page:
                self.decisions += 1
                problem = _compare(rows.get(decision_id), orjson.loads(payload))
                if problem is not None:
                    self.mismatched += 1
                    if self.first_mismatch is None:
                        self.first_mismatch = {"decision_id": decision_id, "seq": seq, **problem}
        self.pending.clear()


def _compare(row: dict[str, Any] | None, recorded: dict[str, Any]) -> dict[str, Any] | None:
    if row is None:
        return {"reason": "the decision row is missing (deleted after it was recorded)"}
    if stored_content_hash(row) == recorded.get("content_sha256") == row["content_sha256"]:
        return None  # the common case: the stored text hashes as written
    row = parse_stored(row)
    actual = content_hash(row)  # by content, whatever the stored text's formatting
    if actual == recorded.get("content_sha256") == row["content_sha256"]:
        return None
    changed = [k for k in _SUMMARY if k in recorded and row.get(k) != recorded[k]]
    if actual == recorded.get("content_sha256"):
        reason = "the row's stored content_sha256 was altered"
    else:
        reason = "the decision row no longer hashes to what its audit event recorded (the row was altered)"
    return {"reason": reason, "recorded_sha256": recorded.get("content_sha256"), "actual_sha256": actual,
            "changed": changed}


def _unaudited(conn: Connection) -> str | None:
    """The oldest decision row without a `decision.recorded` event (an inserted row), if any. Each row's probe
    goes through the (subject_type, subject_id) index; on SQLite the unary + keeps the planner off the action
    index, which would scan every decision event per row."""
    plus = "+" if conn.dialect.name == "sqlite" else ""
    row = conn.execute(text(
        "SELECT d.id FROM decisions d WHERE NOT EXISTS (SELECT 1 FROM audit_events a WHERE a.subject_type = "
        f"'decision' AND a.subject_id = d.id AND {plus}a.action = 'decision.recorded') ORDER BY d.created_at LIMIT 1"
    )).first()
    return None if row is None else str(row[0])


def _expected_head(conn: Connection, seq: int, hash_: str, last_seq: int) -> dict[str, Any]:
    out: dict[str, Any] = {"seq": seq, "hash": hash_, "ok": True, "reason": None}
    if seq == 0:
        found: str | None = GENESIS
    else:
        row = conn.execute(select(AUDIT.c.hash).where(AUDIT.c.seq == seq)).first()
        found = None if row is None else str(row[0])
    if found is None:
        out.update(ok=False, reason=f"event {seq} is missing (the chain ends at {last_seq})")
    elif found != hash_:
        out.update(ok=False, reason=f"event {seq} has hash {found}, not the expected one: the chain was rewritten")
    return out


def verify(engine: Engine, *, chunk: int = 5000, signer: Signer | None = None, head_file: HeadFile | None = None,
           expect_head: tuple[int, str] | None = None) -> dict[str, Any]:
    """The whole report; `ok` only if every check passed. Without a signer the checkpoints are not checked."""
    walk = _Walk()
    with engine.connect() as conn:
        after = 0
        while True:
            rows = conn.execute(select(AUDIT).where(AUDIT.c.seq > after).order_by(AUDIT.c.seq).limit(chunk)
                                ).mappings().all()
            if not rows:
                break
            for row in rows:
                walk.event(row)
            walk.decisions_against_events(conn)
            after = int(rows[-1]["seq"])
        unaudited = _unaudited(conn)
        if unaudited is not None and walk.first_mismatch is None:
            walk.first_mismatch = {"decision_id": unaudited, "seq": None,
                                   "reason": "the decision row has no decision.recorded event (inserted)"}
        expected = _expected_head(conn, *expect_head, walk.last_seq) if expect_head is not None else None
    checkpoints = check(engine, signer, head_file, walk.last_seq) if signer is not None else None
    truncated = checkpoints.pop("truncated") if checkpoints is not None else None
    ok = (walk.first_broken is None and walk.first_mismatch is None and truncated is None
          and (checkpoints is None or checkpoints["bad_count"] == 0) and (expected is None or expected["ok"]))
    return {
        "ok": ok, "checked": walk.checked, "first_broken": walk.first_broken,
        "head": {"seq": walk.head_seq, "hash": walk.prev}, "truncated": truncated,
        "decisions": {"checked": walk.decisions, "mismatched": walk.mismatched, "unaudited": unaudited,
                      "first_mismatch": walk.first_mismatch},
        "checkpoints": checkpoints, "expect_head": expected,
    }
