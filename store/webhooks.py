"""Webhook subscriptions (rows with an owner) and their durable deliveries (an outbox written with the event)."""

from __future__ import annotations

import secrets
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, insert, select, update

from store import audit
from store.audit import AuditRecord
from store.engine import write_tx
from store.ids import new_id, now_iso
from store.tables import WebhookDeliveryRow, WebhookRow

WEBHOOKS = WebhookRow.__table__  # type: ignore[attr-defined]
DELIVERIES = WebhookDeliveryRow.__table__  # type: ignore[attr-defined]
EVENTS = ("explanation.ready", "explanation.failed")
DEFAULT_OWNER = "default"


def public(row: dict[str, Any], *, with_secret: bool = False) -> dict[str, Any]:
    out = {k: row[k] for k in ("id", "owner", "url", "events", "description", "active", "created_at")}
    if with_secret:
        out["secret"] = row["secret"]
    return out


def create(engine: Engine, *, owner: str, url: str, events: list[str], description: str, actor: str) -> dict[str, Any]:
    """A new subscription with a fresh signing secret (returned here, never again)."""
    row: dict[str, Any] = {"id": new_id("whk"), "owner": owner, "url": url, "secret": "whsec_" + secrets.token_urlsafe(32),
           "events": list(events), "description": description, "active": True, "created_at": now_iso()}
    with write_tx(engine) as conn:
        conn.execute(insert(WEBHOOKS), [row])
        audit.append(conn, [AuditRecord(actor, "webhook.created", "webhook", str(row["id"]),
                                        {"owner": owner, "url": url, "events": row["events"]})])
    return public(row, with_secret=True)


def listing(engine: Engine, owner: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(WEBHOOKS).where(WEBHOOKS.c.owner == owner, WEBHOOKS.c.active.is_(True))
                            .order_by(WEBHOOKS.c.created_at)).mappings().all()
    return [public(dict(r)) for r in rows]


def get(engine: Engine, webhook_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(WEBHOOKS).where(WEBHOOKS.c.id == webhook_id)).mappings().first()
    return dict(row) if row else None


def delete(engine: Engine, *, owner: str, webhook_id: str, actor: str) -> bool:
    """Deactivate (rows stay for the delivery history); pending deliveries are not sent any more."""
    now = now_iso()
    with write_tx(engine) as conn:
        res = conn.execute(update(WEBHOOKS).where(WEBHOOKS.c.id == webhook_id, WEBHOOKS.c.owner == owner,
                                                  WEBHOOKS.c.active.is_(True)).values(active=False, deleted_at=now))
        if res.rowcount != 1:
            return False
        conn.execute(update(DELIVERIES).where(DELIVERIES.c.webhook_id == webhook_id,
                                              DELIVERIES.c.status.in_(("queued", "failed")))
                     .values(status="dead", last_error="subscription deleted", updated_at=now, finished_at=now))
        audit.append(conn, [AuditRecord(actor, "webhook.deleted", "webhook", webhook_id, {"owner": owner})])
    return True


def enqueue(conn: Connection, *, event: str, subject_id: str, data: dict[str, Any], max_attempts: int) -> int:
    """Inside the caller's transaction: one delivery per active subscription to `event` (the outbox)."""
    subs = conn.execute(select(WEBHOOKS.c.id, WEBHOOKS.c.events).where(WEBHOOKS.c.active.is_(True))).all()
    now = now_iso()
    rows = []
    for sub_id, events in subs:
        if event not in (events or []):
            continue
        delivery_id = new_id("dlv")
        body = orjson.dumps({"event": event, "delivery_id": delivery_id, "webhook_id": sub_id, "created_at": now,
                             "data": data}, option=orjson.OPT_SORT_KEYS).decode()
        rows.append({"id": delivery_id, "webhook_id": sub_id, "event": event, "subject_id": subject_id,
                     "body": body, "status": "queued", "attempts": 0, "max_attempts": max_attempts, "run_at": now,
                     "created_at": now, "updated_at": now})
    if rows:
        conn.execute(insert(DELIVERIES), rows)
    return len(rows)


def deliveries(engine: Engine, webhook_id: str, limit: int = 50) -> list[dict[str, Any]]:
    cols = [c for c in DELIVERIES.c if c.name != "body"]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).where(DELIVERIES.c.webhook_id == webhook_id)
                            .order_by(DELIVERIES.c.created_at.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]
