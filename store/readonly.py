"""Read-only views for the chat, and running one checked SELECT on a read-only connection with a timeout."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Connection, Engine, inspect, text

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
    """(Re)create the chat's views over the tables that exist (the key table is never among them)."""
    pg = conn.dialect.name == "postgresql"
    tables = set(inspect(conn).get_table_names())
    for name, body in (VIEWS_PG if pg else VIEWS_SQLITE).items():
        source = body.rsplit(" FROM ", 1)[1].split()[0]
        if source not in tables:
            continue
        if pg:
            conn.execute(text(f"CREATE OR REPLACE VIEW {name} AS {body}"))
        else:
            conn.execute(text(f"DROP VIEW IF EXISTS {name}"))
            conn.execute(text(f"CREATE VIEW {name} AS {body}"))


def run_readonly(engine: Engine, sql: str, *, timeout_s: float = 2.0, max_rows: int = 200) -> dict[str, Any]:
    """Execute an already checked SELECT where writing is impossible: SQLite opened read-only (query_only),
    PostgreSQL in a READ ONLY transaction; both stop after timeout_s."""
    if engine.dialect.name == "sqlite":
        return _sqlite(str(engine.url.database), sql, timeout_s, max_rows)
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}")
            result = conn.exec_driver_sql(sql)
            cols = list(result.keys())
            rows = [list(r) for r in result.fetchmany(max_rows)]
        finally:
            tx.rollback()
    return {"columns": cols, "rows": rows, "row_count": len(rows)}


def _sqlite(path: str, sql: str, timeout_s: float, max_rows: int) -> dict[str, Any]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0, check_same_thread=False)
    deadline = time.monotonic() + timeout_s
    conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
    try:
        conn.execute("PRAGMA query_only = ON")
        cur = conn.execute(sql)
        cols = [d[0] for d in cur.description or []]
        rows = [list(r) for r in cur.fetchmany(max_rows)]
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise TimeoutError(f"query exceeded {timeout_s:.1f} s") from None
        raise
    finally:
        conn.close()
    return {"columns": cols, "rows": rows, "row_count": len(rows)}
