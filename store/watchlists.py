"""Watch-list administration (writes, audited); the SQL SLM reads through store/lookups.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select, update

from store.audit import AuditRecord, append
from store.engine import write_tx
from store.ids import new_id, now_iso
from store.tables import WatchlistEntryRow

WATCHLIST = WatchlistEntryRow.__table__  # type: ignore[attr-defined]


def add(engine: Engine, *, kind: str, value: str, reason: str, profile: str | None, expires_at: str | None,
        actor: str) -> dict[str, Any]:
    row = {"id": new_id("wl"), "kind": kind, "value": value, "profile": profile, "reason": reason,
           "expires_at": expires_at, "created_at": now_iso(), "created_by": actor, "active": True}
    with write_tx(engine) as conn:
        conn.execute(insert(WATCHLIST), [row])
        append(conn, [AuditRecord(actor, "watchlist.added", "watchlist", str(row["id"]),
                                  {k: row[k] for k in ("kind", "value", "profile", "reason", "expires_at")})])
    return row


def deactivate(engine: Engine, entry_id: str, *, actor: str, reason: str) -> dict[str, Any] | None:
    with write_tx(engine) as conn:
        row = conn.execute(select(WATCHLIST).where(WATCHLIST.c.id == entry_id)).mappings().first()
        if row is None:
            return None
        conn.execute(update(WATCHLIST).where(WATCHLIST.c.id == entry_id).values(active=False))
        append(conn, [AuditRecord(actor, "watchlist.removed", "watchlist", entry_id,
                                  {"kind": row["kind"], "value": row["value"], "reason": reason})])
    return {**dict(row), "active": False}


def entries(engine: Engine, *, kind: str | None = None, active: bool | None = True) -> list[dict[str, Any]]:
    q = select(WATCHLIST).order_by(WATCHLIST.c.created_at.desc())
    if kind:
        q = q.where(WATCHLIST.c.kind == kind)
    if active is not None:
        q = q.where(WATCHLIST.c.active.is_(active))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]
