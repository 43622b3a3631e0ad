"""The decision path's inserts, straight through the DBAPI cursor of the caller's transaction.

SQLAlchemy Core costs ~0.2-0.3 ms of Python per statement (compile-cache lookup, execution context, a bind
processor per value); the decision path runs five statements per micro-batch, so on a one-event batch that was
most of the write. Here each statement's text is built once per (dialect, table, columns, conflict) and the rows
go to `cursor.executemany` as tuples. JSON columns are serialized with the engine's serializer (or passed through
when the caller serialized them already); on PostgreSQL they get their ::json cast."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, Table

from store.engine import json_text

_SQL: dict[tuple[Any, ...], tuple[str, tuple[str, ...], frozenset[str]]] = {}


def _is_json(column: Any) -> bool:
    return isinstance(column.type, JSON)


def _statement(dialect: str, table: Table, cols: tuple[str, ...], conflict: tuple[tuple[str, ...], tuple[str, ...]] | None
               ) -> tuple[str, tuple[str, ...], frozenset[str]]:
    key = (dialect, table.name, cols, conflict)
    hit = _SQL.get(key)
    if hit is not None:
        return hit
    json_cols = frozenset(c for c in cols if _is_json(table.c[c]))
    mark = "?" if dialect == "sqlite" else "%s"
    holes = ", ".join(f"{mark}::json" if dialect == "postgresql" and c in json_cols else mark for c in cols)
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({holes})"
    if conflict is not None:
        keys, updates = conflict
        sql += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in updates)
    _SQL[key] = (sql, cols, json_cols)
    return _SQL[key]


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *,
                serialized: frozenset[str] = frozenset(),
                conflict: tuple[tuple[str, ...], tuple[str, ...]] | None = None) -> None:
    """INSERT rows (all with the same keys) into table within conn's open transaction; `serialized` names JSON
    columns whose values are JSON text already; `conflict` = (key columns, columns to update) makes it an upsert."""
    if not rows:
        return
    sql, cols, json_cols = _statement(conn.dialect.name, table, tuple(rows[0]), conflict)
    encode = [c in json_cols and c not in serialized for c in cols]
    if any(encode):
        params = [tuple(json_text(r[c]) if enc and r[c] is not None else r[c]
                        for c, enc in zip(cols, encode, strict=True)) for r in rows]
    else:  # nothing to serialize here (the decisions: their JSON columns come as text): one C call per row
        params = list(map(itemgetter(*cols), rows)) if len(cols) > 1 else [(r[cols[0]],) for r in rows]
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(sql, params)
    finally:
        cursor.close()


def fetch_one(conn: Connection, sql: str) -> tuple[Any, ...] | None:
    """One row of a constant query (no parameters) through the DBAPI cursor."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        row = cursor.fetchone()
    finally:
        cursor.close()
    return tuple(row) if row is not None else None
