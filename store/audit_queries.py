"""Read side of the audit trail: fixed, parameterized queries with keyset (cursor) pagination."""

from __future__ import annotations

import json
from typing import Any, cast

from sqlalchemy import Engine, and_, select

from core.domain import AuditEvent
from store.tables import AuditEventRow

AUDIT = AuditEventRow.__table__  # type: ignore[attr-defined]
MAX_LIMIT = 500


def list_events(engine: Engine, *, subject_id: str | None = None, subject_type: str | None = None,
                actor: str | None = None, action: str | None = None, since: str | None = None,
                until: str | None = None, after_seq: int = 0, limit: int = 100,
                descending: bool = False, raw_payload: bool = False) -> list[AuditEvent]:
    """Events matching every given filter, in sequence order, after `after_seq` (the cursor). `raw_payload`
    keeps each payload as the canonical JSON text that was hashed (for exports that must re-verify)."""
    conds = []
    if subject_id:
        conds.append(AUDIT.c.subject_id == subject_id)
    if subject_type:
        conds.append(AUDIT.c.subject_type == subject_type)
    if actor:
        conds.append(AUDIT.c.actor == actor)
    if action:
        conds.append(AUDIT.c.action.like(like_prefix(action[:-1]), escape="\\") if action.endswith("*")
                     else AUDIT.c.action == action)
    if since:
        conds.append(AUDIT.c.ts >= since)
    if until:
        conds.append(AUDIT.c.ts < until)
    if after_seq:
        conds.append(AUDIT.c.seq < after_seq if descending else AUDIT.c.seq > after_seq)
    q = select(AUDIT).where(and_(*conds)) if conds else select(AUDIT)
    q = q.order_by(AUDIT.c.seq.desc() if descending else AUDIT.c.seq).limit(max(1, min(limit, MAX_LIMIT)))
    with engine.connect() as conn:
        if raw_payload:
            return [cast(AuditEvent, dict(r)) for r in conn.execute(q).mappings()]
        return [public(dict(r)) for r in conn.execute(q).mappings()]


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching `prefix` literally, then anything (its own % and _ are escaped)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def public(row: dict[str, Any]) -> AuditEvent:
    out = dict(row)
    out["payload"] = json.loads(row["payload"])
    return cast(AuditEvent, out)
