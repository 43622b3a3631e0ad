"""Read-only views for the chat, and running one checked SELECT on a read-only, view-only connection with a timeout."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Connection, Engine, inspect, text
from sqlmodel import SQLModel

from store.chat_access import (
    ReadDenied,
    limit_sqlite,
    record_view_reads,
    run_pg,
    setup_pg_role,
    sqlite_authorizer,
)

VIEWS_SQLITE = {
    "chat_decisions": "SELECT id, created_at, profile, stream, event_ts, label, severity, score, action, disagreement, "
                      "json_extract(router, '$.arm') AS arm, json_extract(inputs, '$.value') AS value, "
                      "explanation_status FROM decisions",
    "chat_alerts": "SELECT id, profile, stream, entity, rule, state, resolution, action, severity, first_decision_id, "
                   "last_decision_id, decision_count, opened_at, last_seen_at, assignee, snoozed_until, resolved_at, "
                   "resolved_by FROM alerts",
    "chat_audit": "SELECT seq, ts, actor, action, subject_type, subject_id FROM audit_events",
    "chat_feedback": "SELECT decision_id, profile, outcome, source, arm, reward, created_at FROM feedback",
    "chat_models": "SELECT profile, model, version, family, created_at FROM model_versions",
}
VIEWS_PG = {**VIEWS_SQLITE,
            "chat_decisions": "SELECT id, created_at, profile, stream, event_ts, label, severity, score, action, "
                              "disagreement, router->>'arm' AS arm, (inputs->>'value')::float AS value, "
                              "explanation_status FROM decisions"}


def create_views(conn: Connection) -> None:
    """(Re)create the chat's views over the tables that exist (the key table is never among them); on PostgreSQL
    also the chat's role with SELECT on them (store/chat_access.py)."""
    pg = conn.dialect.name == "postgresql"
    tables = set(inspect(conn).get_table_names())
    made = []
    for name, body in (VIEWS_PG if pg else VIEWS_SQLITE).items():
        source = body.rsplit(" FROM ", 1)[1].split()[0]
        if source not in tables:
            continue
        if pg:
            conn.execute(text(f"CREATE OR REPLACE VIEW {name} AS {body}"))
        else:
            conn.execute(text(f"DROP VIEW IF EXISTS {name}"))
            conn.execute(text(f"CREATE VIEW {name} AS {body}"))
        made.append(name)
    if pg:
        setup_pg_role(conn, made)


_NAMES: dict[str, tuple[float, frozenset[str]]] = {}


def relation_names(engine: Engine, max_age_s: float = 60.0) -> frozenset[str]:
    """Lower-case names of the database's tables and views and of the service's tables (cached a minute): no
    CTE of the chat may take one of them."""
    import store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

    key, now = str(engine.url), time.monotonic()
    hit = _NAMES.get(key)
    if hit is not None and now - hit[0] < max_age_s:
        return hit[1]
    insp = inspect(engine)
    names = frozenset(n.lower() for n in (*insp.get_table_names(), *insp.get_view_names(),
                                          *SQLModel.metadata.tables))
    _NAMES[key] = (now, names)
    return names


def run_readonly(engine: Engine, sql: str, *, timeout_s: float = 2.0, max_rows: int = 200) -> dict[str, Any]:
    """Execute an already checked SELECT where writing is impossible and reading is limited to the chat views,
    whatever the statement says: SQLite opened read-only (query_only) under an authorizer, PostgreSQL in a READ
    ONLY transaction as the chat's role; both stop after timeout_s (TimeoutError). What the database refuses
    raises ReadDenied."""
    if engine.dialect.name == "sqlite":
        return _sqlite(str(engine.url.database), sql, timeout_s, max_rows)
    with engine.connect() as conn:
        return run_pg(conn, sql, timeout_s, max_rows)


def _sqlite(path: str, sql: str, timeout_s: float, max_rows: int) -> dict[str, Any]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0, check_same_thread=False)
    deadline = time.monotonic() + timeout_s
    denied: list[str] = []
    try:
        conn.execute("PRAGMA query_only = ON")
        limit_sqlite(conn)
        conn.set_authorizer(sqlite_authorizer(record_view_reads(conn, VIEWS_SQLITE), denied))
        conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
        cur = conn.execute(sql)
        cols = [d[0] for d in cur.description or []]
        rows = [list(r) for r in cur.fetchmany(max_rows)]
    except sqlite3.DatabaseError as exc:
        if "interrupted" in str(exc):
            raise TimeoutError(f"query exceeded {timeout_s:.1f} s") from None
        if denied or "not authorized" in str(exc):
            raise ReadDenied(f"not authorized on the chat's readonly connection: {', '.join(denied[:3])}") from None
        raise
    finally:
        conn.close()
    return {"columns": cols, "rows": rows, "row_count": len(rows)}
