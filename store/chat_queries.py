"""Fixed, parameterized read queries behind the chat's tools (stream windows, alerts, similar incidents)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, true

from core.domain import Decision
from store.decisions import DECISIONS, from_row
from store.tables import AlertRow, StreamStateRow

ALERTS = AlertRow.__table__  # type: ignore[attr-defined]
STREAMS = StreamStateRow.__table__  # type: ignore[attr-defined]


def stream_window(engine: Engine, profile: str, stream: str, since_ts: float | None, until_ts: float | None,
                  limit: int = 500) -> list[Decision]:
    """Decisions of one stream with event time in [since_ts, until_ts), oldest first."""
    conds = [DECISIONS.c.profile == profile, DECISIONS.c.stream == stream]
    if since_ts is not None:
        conds.append(DECISIONS.c.event_ts >= since_ts)
    if until_ts is not None:
        conds.append(DECISIONS.c.event_ts < until_ts)
    q = select(DECISIONS).where(and_(*conds)).order_by(DECISIONS.c.event_ts, DECISIONS.c.id).limit(limit)
    with engine.connect() as conn:
        return [from_row(dict(r)) for r in conn.execute(q).mappings()]


def known_streams(engine: Engine) -> list[tuple[str, str]]:
    """(profile, stream) of every stream the service has seen: one row each in stream_states, so this stays cheap
    however many decisions there are."""
    q = select(STREAMS.c.profile, STREAMS.c.stream)
    with engine.connect() as conn:
        return [(p, s) for p, s in conn.execute(q)]


def stream_days(engine: Engine, profile: str, stream: str) -> tuple[float | None, float | None]:
    q = select(func.min(DECISIONS.c.event_ts), func.max(DECISIONS.c.event_ts)).where(
        DECISIONS.c.profile == profile, DECISIONS.c.stream == stream)
    with engine.connect() as conn:
        lo, hi = conn.execute(q).one()
    return lo, hi


def _ts(text: str) -> float:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def alerts(engine: Engine, *, profile: str | None = None, resolution: str | None = None, state: str | None = None,
           since: str | None = None, until: str | None = None, time: str | None = None, by: str = "severity",
           limit: int = 20) -> list[dict[str, Any]]:
    """Alerts whose time is in [since, until) (ISO-8601 UTC), ordered by severity or time. `time` says which time:
    `event` (the time of the event that opened the alert, or when the alert was opened for events without one;
    the default), `opened` (when the service opened it) or `resolved` (the default with a resolution)."""
    time = time or ("resolved" if resolution else "event")
    conds: list[Any] = []
    for col, value in ((ALERTS.c.profile, profile), (ALERTS.c.resolution, resolution), (ALERTS.c.state, state)):
        if value is not None:
            conds.append(col == value)
    source: Any = ALERTS
    if time == "event":
        source = ALERTS.outerjoin(DECISIONS, DECISIONS.c.id == ALERTS.c.first_decision_id)
        ev, opened = DECISIONS.c.event_ts, ALERTS.c.opened_at
        by_event = [ev.is_not(None)] + ([ev >= _ts(since)] if since else []) + ([ev < _ts(until)] if until else [])
        by_opened = [ev.is_(None)] + ([opened >= since] if since else []) + ([opened < until] if until else [])
        if since or until:
            conds.append(or_(and_(*by_event), and_(*by_opened)))
        time_col = func.coalesce(ev, 0.0)
    else:
        time_col = ALERTS.c.resolved_at if time == "resolved" else ALERTS.c.opened_at
        if since:
            conds.append(time_col >= since)
        if until:
            conds.append(time_col < until)
    order = (ALERTS.c.severity.desc(), ALERTS.c.opened_at.desc()) if by == "severity" else (time_col.desc(),)
    q = select(ALERTS).select_from(source).where(and_(true(), *conds)).order_by(*order, ALERTS.c.id).limit(
        min(limit, 200))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def incident_candidates(engine: Engine, profile: str, limit: int = 5000) -> list[Decision]:
    """Recent decisions of a profile that raised something (alert, critical, review), with their inputs."""
    q = (select(DECISIONS).where(DECISIONS.c.profile == profile, DECISIONS.c.action.in_(["alert", "critical", "review"]))
         .order_by(DECISIONS.c.created_at.desc()).limit(limit))
    with engine.connect() as conn:
        return [from_row(dict(r)) for r in conn.execute(q).mappings()]
