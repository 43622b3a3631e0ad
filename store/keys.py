"""API key rows: create (hash only), list, revoke and look up by hash; every change audited, never the key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text, update

from store.audit import AuditRecord, append
from store.engine import write_tx
from store.ids import new_id, now_iso
from store.tables import ApiKeyRow

KEYS = ApiKeyRow.__table__  # type: ignore[attr-defined]
_PG_BOOTSTRAP_LOCK = 7_724_002  # serialises "create the first admin key" across replicas on PostgreSQL
PUBLIC = ("id", "name", "role", "prefix", "created_at", "created_by", "revoked_at", "rate_per_s", "burst")


def public(row: Any) -> dict[str, Any]:
    return {k: row[k] for k in PUBLIC}


def _insert(conn: Connection, *, name: str, role: str, key_hash: str, prefix: str, actor: str,
            rate_per_s: float | None, burst: int | None) -> dict[str, Any]:
    key_id = new_id("key")
    row: dict[str, Any] = {"id": key_id, "name": name, "role": role, "key_hash": key_hash, "prefix": prefix,
           "created_at": now_iso(), "created_by": actor, "revoked_at": None, "rate_per_s": rate_per_s, "burst": burst}
    conn.execute(insert(KEYS), [row])
    append(conn, [AuditRecord(actor, "key.created", "api_key", key_id, {
        "key_id": key_id, "name": name, "role": role, "prefix": prefix, "rate_per_s": rate_per_s,
        "burst": burst})])
    return public(row)


def create(engine: Engine, *, name: str, role: str, key_hash: str, prefix: str, actor: str,
           rate_per_s: float | None = None, burst: int | None = None) -> dict[str, Any]:
    with write_tx(engine) as conn:
        return _insert(conn, name=name, role=role, key_hash=key_hash, prefix=prefix, actor=actor,
                       rate_per_s=rate_per_s, burst=burst)


def create_first(engine: Engine, *, name: str, role: str, key_hash: str, prefix: str,
                 actor: str) -> dict[str, Any] | None:
    """Create this key only if no active key exists (one replica wins); None when keys exist already."""
    with write_tx(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_BOOTSTRAP_LOCK})
        active = conn.execute(select(func.count()).select_from(KEYS).where(KEYS.c.revoked_at.is_(None))).scalar_one()
        if active:
            return None
        return _insert(conn, name=name, role=role, key_hash=key_hash, prefix=prefix, actor=actor, rate_per_s=None,
                       burst=None)


def listing(engine: Engine, *, include_revoked: bool = False) -> list[dict[str, Any]]:
    q = select(KEYS).order_by(KEYS.c.created_at)
    if not include_revoked:
        q = q.where(KEYS.c.revoked_at.is_(None))
    with engine.connect() as conn:
        return [public(r) for r in conn.execute(q).mappings()]


def revoke(engine: Engine, key_id: str, *, actor: str, reason: str = "") -> dict[str, Any] | None:
    """Revoke an active key; None when there is no such active key."""
    with write_tx(engine) as conn:
        done = conn.execute(update(KEYS).where(KEYS.c.id == key_id, KEYS.c.revoked_at.is_(None))
                            .values(revoked_at=now_iso())).rowcount
        if not done:
            return None
        row = conn.execute(select(KEYS).where(KEYS.c.id == key_id)).mappings().one()
        append(conn, [AuditRecord(actor, "key.revoked", "api_key", key_id,
                                  {"key_id": key_id, "name": row["name"], "role": row["role"], "reason": reason})])
        return public(row)


def by_hash(engine: Engine, key_hash: str) -> dict[str, Any] | None:
    """The key row (with its hash, for the constant-time comparison) or None."""
    with engine.connect() as conn:
        row = conn.execute(select(KEYS).where(KEYS.c.key_hash == key_hash)).mappings().first()
    return dict(row) if row else None
