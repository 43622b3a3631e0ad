"""The alert service: list, read, acknowledge, assign, snooze, comment and resolve (resolution goes through the
review graph, so every verdict is applied the same way); store refusals become domain errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine

from core.domain import Alert
from core.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from store import alert_ops, alerts
from store.alert_ops import AlertMissing, AlertRefused
from store.ids import iso, utc_iso

if TYPE_CHECKING:
    from studio.review import ReviewService

T = TypeVar("T")
PUBLIC = ("id", "state", "resolution", "profile", "stream", "entity", "rule", "dedup_key", "action", "severity",
          "decision_count", "first_decision_id", "last_decision_id", "opened_at", "last_seen_at", "updated_at",
          "acknowledged_at", "acknowledged_by", "assignee", "snoozed_until", "snoozed_severity", "escalations",
          "resolved_at", "resolved_by", "duplicate_of")


def view(row: Alert) -> dict[str, Any]:
    out = {k: row.get(k) for k in PUBLIC}
    until = row["snoozed_until"]
    out["snoozed"] = bool(until and until > iso(datetime.now(UTC)))
    out["review"] = {"status": row.get("review_status"), "approval_required": row.get("approval_required"),
                     "triage": row.get("triage")}
    out["href"] = f"/v1/alerts/{row['id']}"
    return out


async def _run(fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    try:
        return await asyncio.to_thread(fn, *args, **kw)
    except AlertMissing as exc:
        raise NotFound(f"no alert {exc.args[0]!r}") from None
    except AlertRefused as exc:
        raise Conflict(str(exc)) from None


class AlertService:
    """What people do with alerts; a resolution is a review verdict, applied by the review service."""

    def __init__(self, engine: Engine, review: ReviewService | None) -> None:
        self.engine = engine
        self.review = review

    async def listing(self, *, limit: int, cursor: str | None, since: datetime | None = None,
                      until: datetime | None = None, **filters: Any) -> dict[str, Any]:
        if filters.get("state") is not None and filters["state"] not in alerts.STATES:
            raise ValidationFailed(f"state must be one of {list(alerts.STATES)}")
        rows = await asyncio.to_thread(alerts.listing, self.engine, before_id=cursor, limit=limit,
                                       since=utc_iso(since), until=utc_iso(until), **filters)
        return {"alerts": [view(r) for r in rows], "count": len(rows),
                "next_cursor": rows[-1]["id"] if len(rows) == max(1, min(limit, alerts.MAX_LIMIT)) else None}

    async def detail(self, alert_id: str) -> dict[str, Any]:
        row = await asyncio.to_thread(alerts.detail, self.engine, alert_id)
        if row is None:
            raise NotFound(f"no alert {alert_id!r}")
        out = view(row)
        out["decisions"] = row["decisions"]
        out["comments"] = row["comments"]
        if self.review is not None and self.review.graph is not None:
            out["review"]["thread"] = await self.review.thread(alert_id)
        return out

    async def acknowledge(self, alert_id: str, *, actor: str) -> dict[str, Any]:
        return view(await _run(alert_ops.acknowledge, self.engine, alert_id, actor=actor))

    async def assign(self, alert_id: str, *, assignee: str | None, actor: str) -> dict[str, Any]:
        return view(await _run(alert_ops.assign, self.engine, alert_id, assignee=assignee, actor=actor))

    async def snooze(self, alert_id: str, *, until: datetime, actor: str, reason: str) -> dict[str, Any]:
        when = until if until.tzinfo else until.replace(tzinfo=UTC)
        if when <= datetime.now(UTC):
            raise ValidationFailed("`until` must be in the future")
        return view(await _run(alert_ops.snooze, self.engine, alert_id, until=iso(when), actor=actor, reason=reason))

    async def comment(self, alert_id: str, *, body: str, actor: str) -> dict[str, Any]:
        return await _run(alert_ops.add_comment, self.engine, alert_id, body=body, actor=actor)

    async def resolve(self, alert_id: str, *, resolution: str, note: str, actor: str,
                      duplicate_of: str | None = None) -> dict[str, Any]:
        """Resolution = a review verdict: applied by the alert's review graph (labels, rewards, audit)."""
        if resolution == "duplicate" and not duplicate_of:
            raise ValidationFailed("a duplicate needs `duplicate_of`: the alert it duplicates")
        if self.review is None:
            raise ServiceUnavailable("alert review is not running in this process")
        return await self.review.review(alert_id, verdict=resolution, note=note, actor=actor,
                                        duplicate_of=duplicate_of)
