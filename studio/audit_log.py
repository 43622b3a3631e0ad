"""The audit trail for auditors: filtered, cursor-paginated queries, an export read in keyset pages, and the
verification of the chain, decision rows and signed checkpoints (studio/audit_integrity.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from core.domain import AuditEvent
from core.settings import Settings
from store.audit_queries import MAX_LIMIT, list_events
from store.ids import utc_iso
from studio import audit_integrity

__all__ = ["MAX_LIMIT", "AuditLog"]
EXPORT_BATCH = 1000


def filters(*, subject_type: str | None = None, subject_id: str | None = None, actor: str | None = None,
            action: str | None = None, since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
    return {"subject_type": subject_type, "subject_id": subject_id, "actor": actor, "action": action,
            "since": utc_iso(since), "until": utc_iso(until)}


class AuditLog:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine

    async def query(self, *, cursor: int | None, limit: int, descending: bool, **where: Any) -> dict[str, Any]:
        rows = await asyncio.to_thread(list_events, self.engine, after_seq=cursor or 0, limit=limit,
                                       descending=descending, **filters(**where))
        return {"events": rows, "count": len(rows), "next_cursor": rows[-1]["seq"] if len(rows) == limit else None}

    async def pages(self, *, raw_payload: bool, **where: Any) -> AsyncIterator[list[AuditEvent]]:
        """Every matching event, oldest first, in keyset pages: constant memory, each page one indexed query."""
        after, match = 0, filters(**where)
        while True:
            page = await asyncio.to_thread(list_events, self.engine, after_seq=after, limit=EXPORT_BATCH,
                                           raw_payload=raw_payload, **match)
            if not page:
                return
            yield page
            if len(page) < EXPORT_BATCH:
                return
            after = page[-1]["seq"]

    async def verify(self, expect_head: str | None = None) -> dict[str, Any]:
        expected = audit_integrity.parse_head(expect_head) if expect_head is not None else None
        return await asyncio.to_thread(audit_integrity.verify, self.settings, self.engine, expect_head=expected)
