"""Append-only, hash-chained audit trail: append inside the caller's transaction; verify the whole chain."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, text

from store.bulk import fetch_one, insert_rows
from store.ids import now_iso
from store.tables import AuditEventRow

GENESIS = "0" * 64
_PG_CHAIN_LOCK = 7_724_001  # advisory lock key serialising appends to the chain on PostgreSQL
AUDIT = AuditEventRow.__table__  # type: ignore[attr-defined]


@dataclass
class AuditRecord:
    actor: str
    action: str
    subject_type: str
    subject_id: str
    payload: dict[str, Any]


def canonical(payload: Any) -> str:
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def chain_hash(seq: int, ts: str, actor: str, action: str, subject_type: str, subject_id: str,
               payload: str, prev_hash: str) -> str:
    material = "\x1f".join([str(seq), ts, actor, action, subject_type, subject_id, payload, prev_hash])
    return hashlib.sha256(material.encode()).hexdigest()


def _head(conn: Connection) -> tuple[int, str]:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})
    row = fetch_one(conn, "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def append(conn: Connection, records: Iterable[AuditRecord]) -> list[int]:
    """Append records to the chain within the caller's open write transaction; returns their seq numbers."""
    records = list(records)
    if not records:
        return []
    seq, prev = _head(conn)
    ts = now_iso()
    rows, seqs = [], []
    for r in records:
        seq += 1
        payload = canonical(r.payload)
        h = chain_hash(seq, ts, r.actor, r.action, r.subject_type, r.subject_id, payload, prev)
        rows.append({"seq": seq, "ts": ts, "actor": r.actor, "action": r.action, "subject_type": r.subject_type,
                     "subject_id": r.subject_id, "payload": payload, "prev_hash": prev, "hash": h})
        seqs.append(seq)
        prev = h
    insert_rows(conn, AUDIT, rows)
    return seqs


def check_row(row: Any, expected_seq: int, prev: str) -> dict[str, Any] | None:
    seq = int(row["seq"])
    if seq != expected_seq:
        return {"seq": expected_seq, "reason": f"missing event: sequence jumps from {expected_seq - 1} to {seq}"}
    if row["prev_hash"] != prev:
        return {"seq": seq, "reason": "prev_hash does not match the previous event's hash"}
    h = chain_hash(seq, row["ts"], row["actor"], row["action"], row["subject_type"], row["subject_id"],
                   row["payload"], row["prev_hash"])
    if h != row["hash"]:
        return {"seq": seq, "reason": "hash does not match the event's content (the row was altered)"}
    return None

