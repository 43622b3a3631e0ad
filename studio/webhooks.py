"""Webhook delivery: HMAC-SHA256 signatures, one HTTP POST per leased delivery, retries with backoff, audited."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from typing import Any

import httpx
from sqlalchemy import Engine

from store import audit, webhooks
from store.audit import AuditRecord
from store.engine import write_tx
from store.jobs import Lease, LeaseQueue
from studio import __version__

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Studio-Signature"


def sign(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the exact request body with the subscription's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, body), signature)


def delivery_queue(engine: Engine, *, lease_s: float, backoff_s: float) -> LeaseQueue:
    return LeaseQueue(engine, webhooks.DELIVERIES, lease_s=lease_s, backoff_s=backoff_s, backoff_max_s=600.0)


async def deliver(client: httpx.AsyncClient, queue: LeaseQueue, lease: Lease, *, timeout_s: float) -> str:
    """POST one delivery; record the outcome (done, failed with backoff, dead) with an audit event."""
    row = lease.row
    sub = await asyncio.to_thread(webhooks.get, queue.engine, row["webhook_id"])
    code: int | None = None
    if sub is None or not sub["active"]:
        ok, error = False, "subscription deleted"
    else:
        body = row["body"].encode()
        headers = {"content-type": "application/json", "user-agent": f"gateway-ml-studio/{__version__}",
                   "x-studio-event": row["event"], "x-studio-delivery": row["id"],
                   SIGNATURE_HEADER.lower(): sign(sub["secret"], body)}
        try:
            resp = await client.post(sub["url"], content=body, headers=headers, timeout=timeout_s)
            code = resp.status_code
            ok, error = 200 <= code < 300, f"HTTP {code}"
        except httpx.HTTPError as exc:
            ok, error = False, type(exc).__name__
    return await asyncio.to_thread(_record, queue, lease, ok, code, error, sub is None or not sub["active"])


def _record(queue: LeaseQueue, lease: Lease, ok: bool, code: int | None, error: str, gone: bool) -> str:
    row = lease.row
    payload: dict[str, Any] = {"delivery_id": row["id"], "webhook_id": row["webhook_id"], "event": row["event"],
                               "subject_id": row["subject_id"], "attempt": lease.attempt, "status_code": code}
    with write_tx(queue.engine) as conn:
        if ok:
            status = "done" if queue.finish(conn, lease, "done", last_status=code) else None
            action = "webhook.delivered"
        elif gone:
            status = "dead" if queue.finish(conn, lease, "dead", last_error=error) else None
            action = "webhook.dead"
        else:
            status = queue.fail(conn, lease, error)
            if status is not None:
                conn.execute(queue.t.update().where(queue.t.c.id == row["id"]).values(last_status=code))
            action = "webhook.dead" if status == "dead" else "webhook.delivery_failed"
        if status is None:
            return "lost"
        audit.append(conn, [AuditRecord("webhooks", action, "webhook", row["webhook_id"],
                                        {**payload, "error": None if ok else error})])
    if not ok:
        log.info("webhook delivery %s attempt %d: %s", row["id"], lease.attempt, error)
    return status
