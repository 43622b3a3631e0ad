"""The chat's read access enforced by the database, below the SQL guard: on SQLite an authorizer that lets a
statement read only through the chat views and call only allow-listed functions; on PostgreSQL a role with SELECT
on the views only, whose statements run inside a SECURITY DEFINER function owned by that role (where SQL cannot
switch the role back)."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

CHAT_ROLE = "studio_chat_ro"
QUERY_FUNCTION = "studio_chat_query"
_PG_SETUP_LOCK = 7_724_022  # advisory lock key: one process at a time sets up the chat's role in a database

SQLITE_FUNCTIONS = frozenset({
    "count", "sum", "total", "avg", "min", "max", "abs", "round", "coalesce", "ifnull", "iif", "nullif", "lower",
    "upper", "length", "substr", "substring", "trim", "ltrim", "rtrim", "replace", "instr", "like", "glob", "date",
    "time", "datetime", "julianday", "strftime", "unixepoch", "group_concat", "string_agg", "concat", "floor",
    "ceil", "ceiling", "sign", "sqrt", "typeof", "current_timestamp", "current_date", "current_time",
})
_ACTIONS = {getattr(sqlite3, f"SQLITE_{n}"): n for n in (
    "CREATE_INDEX", "CREATE_TABLE", "CREATE_TEMP_INDEX", "CREATE_TEMP_TABLE", "CREATE_TEMP_TRIGGER",
    "CREATE_TEMP_VIEW", "CREATE_TRIGGER", "CREATE_VIEW", "DELETE", "DROP_INDEX", "DROP_TABLE", "DROP_TEMP_INDEX",
    "DROP_TEMP_TABLE", "DROP_TEMP_TRIGGER", "DROP_TEMP_VIEW", "DROP_TRIGGER", "DROP_VIEW", "INSERT", "PRAGMA",
    "TRANSACTION", "UPDATE", "ATTACH", "DETACH", "ALTER_TABLE", "REINDEX", "ANALYZE", "CREATE_VTABLE",
    "DROP_VTABLE", "SAVEPOINT")}  # authorizer action codes, for the message of a denial


class ReadDenied(PermissionError):
    """The database refused what the chat's access does not allow (a read, a function, a write)."""


# -- SQLite -------------------------------------------------------------------------------------------------------
@dataclass
class ViewReads:
    """What each chat view's own body reads: (table, column) pairs and functions (all lower case)."""

    columns: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    functions: dict[str, set[str]] = field(default_factory=dict)
    relations: set[str] = field(default_factory=set)  # every table and view of the database

    @property
    def base_tables(self) -> set[str]:
        return {t for cols in self.columns.values() for t, _ in cols}


def record_view_reads(conn: sqlite3.Connection, views: Iterable[str]) -> ViewReads:
    """Prepare `SELECT * FROM view` for each view with a recording authorizer (nothing is read)."""
    out = ViewReads(relations={n.lower() for (n,) in conn.execute("SELECT name FROM sqlite_master")})
    for view in views:
        cols: set[tuple[str, str]] = set()
        funcs: set[str] = set()

        def record(action: int, a1: str | None, a2: str | None, _db: str | None, src: str | None,
                   cols: set[tuple[str, str]] = cols, funcs: set[str] = funcs, view: str = view) -> int:
            if (src or "").lower() == view:
                if action == sqlite3.SQLITE_READ:
                    cols.add(((a1 or "").lower(), (a2 or "").lower()))
                elif action == sqlite3.SQLITE_FUNCTION:
                    funcs.add((a2 or "").lower())
            return sqlite3.SQLITE_OK

        conn.set_authorizer(record)
        try:
            conn.execute(f'SELECT * FROM "{view}" LIMIT 0').close()
        except sqlite3.OperationalError:  # the view does not exist in this database (its table is missing)
            continue
        finally:
            conn.set_authorizer(None)
        out.columns[view], out.functions[view] = cols, funcs
    return out


def sqlite_authorizer(reads: ViewReads, denied: list[str]) -> Callable[[int, Any, Any, Any, Any], int]:
    """Allow a SELECT (recursive CTEs included) that reads the views' columns, base columns only as a view's own
    body reads them, and allow-listed functions; deny everything else (PRAGMA, ATTACH, writes, other tables,
    sqlite_master, table-valued functions, load_extension). What was denied is appended to `denied`."""
    base = reads.base_tables

    def _counted(table: str) -> bool:  # no column is read, only rows counted: a CTE, or a view's base table
        return table in base or not (table in reads.relations or table.startswith(("sqlite_", "pragma_", "json_")))

    def authorize(action: int, a1: str | None, a2: str | None, db: str | None, src: str | None) -> int:
        source = (src or "").lower()
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            table, column = (a1 or "").lower(), (a2 or "").lower()
            if db in ("main", None) and (
                    table in reads.columns  # a column of a chat view
                    or (table, column) in reads.columns.get(source, ())  # what the view's body reads
                    or (column == "" and db is None and _counted(table))):  # count(*) over a view or a CTE
                return sqlite3.SQLITE_OK
            denied.append(f"reading {a1}.{a2}" if a2 else f"reading {a1}")
        elif action == sqlite3.SQLITE_FUNCTION:
            name = (a2 or "").lower()
            if name in SQLITE_FUNCTIONS or name in reads.functions.get(source, ()):
                return sqlite3.SQLITE_OK
            denied.append(f"function {a2}()")
        else:
            what = _ACTIONS.get(action, str(action))
            denied.append(f"{what} {a1 or ''}".strip())
        return sqlite3.SQLITE_DENY

    return authorize


def limit_sqlite(conn: sqlite3.Connection) -> None:
    """No attached databases; bounded strings and statements (a recursive CTE cannot build a huge value)."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 10_000_000)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, 100_000)


# -- PostgreSQL ---------------------------------------------------------------------------------------------------
_ROLE_SQL = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{CHAT_ROLE}') THEN
    BEGIN
      CREATE ROLE {CHAT_ROLE} NOLOGIN NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- another database of the cluster made it
    END;
  END IF;
  IF NOT pg_has_role(current_user, '{CHAT_ROLE}', 'MEMBER') THEN
    GRANT {CHAT_ROLE} TO CURRENT_USER;
  END IF;
  IF NOT has_schema_privilege('{CHAT_ROLE}', current_schema(), 'USAGE') THEN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO {CHAT_ROLE}', current_schema());
  END IF;
END $$"""
# Runs the statement as its owner, the chat role: inside a SECURITY DEFINER function PostgreSQL refuses to change
# the role (SET ROLE, set_config('role', ...)), so the statement cannot step out of the role's privileges.
_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {QUERY_FUNCTION}(statement text, max_rows integer) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
DECLARE
  r record;
  n integer := 0;
BEGIN
  FOR r IN EXECUTE statement LOOP
    EXIT WHEN n >= max_rows;
    n := n + 1;
    RETURN NEXT row_to_json(r)::text;
  END LOOP;
EXCEPTION WHEN invalid_cursor_definition THEN
  RAISE EXCEPTION 'the chat''s read-only access runs one SELECT only (%)', SQLERRM
    USING ERRCODE = 'read_only_sql_transaction';
END $fn$"""
_OWNER_SQL = f"""
DO $$
BEGIN
  EXECUTE format('GRANT CREATE ON SCHEMA %I TO {CHAT_ROLE}', current_schema());
  ALTER FUNCTION {QUERY_FUNCTION}(text, integer) OWNER TO {CHAT_ROLE};
  EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM {CHAT_ROLE}', current_schema());
  REVOKE ALL ON FUNCTION {QUERY_FUNCTION}(text, integer) FROM PUBLIC;
  EXECUTE format('GRANT EXECUTE ON FUNCTION {QUERY_FUNCTION}(text, integer) TO %I', current_user);
END $$"""


def setup_pg_role(conn: Connection, views: Iterable[str]) -> bool:
    """Create (idempotently) the chat's role, its SELECT on `views` and the function its statements run in.
    Without the privileges for that (CREATEROLE), the chat's SQL stays unavailable on this database: logged,
    and every chat statement then fails at the database instead of running with more rights."""
    try:
        with conn.begin_nested():
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_SETUP_LOCK})
            conn.execute(text(_ROLE_SQL))
            for view in views:
                conn.execute(text(f"GRANT SELECT ON {view} TO {CHAT_ROLE}"))
            conn.execute(text(_FUNCTION_SQL))
            conn.execute(text(_OWNER_SQL))
        return True
    except DBAPIError as exc:
        log.warning("the chat's database role %s could not be set up, so chat SQL is unavailable here: %s",
                    CHAT_ROLE, str(exc.orig).splitlines()[0] if exc.orig else exc)
        return False


class _Obj(list[tuple[str, Any]]):
    """A JSON object kept as its (key, value) pairs: order and duplicate column names survive."""


def _plain(value: Any) -> Any:
    if isinstance(value, _Obj):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def run_pg(conn: Connection, sql: str, timeout_s: float, max_rows: int) -> dict[str, Any]:
    """One statement as the chat role in a READ ONLY transaction with a statement timeout (rolled back)."""
    tx = conn.begin()
    try:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
        conn.exec_driver_sql(f"SET LOCAL ROLE {CHAT_ROLE}")
        # the statement is a bound parameter: no driver placeholder parsing, so LIKE '%x%' is just text
        texts = conn.execute(text(f"SELECT r FROM {QUERY_FUNCTION}(:statement, :max_rows) AS r"),
                             {"statement": sql, "max_rows": max_rows}).scalars().all()
        rows = [json.loads(t, object_pairs_hook=_Obj) for t in texts]
        columns = [k for k, _ in rows[0]] if rows else _describe(conn, sql)
    except DBAPIError as exc:
        raise _pg_error(exc, timeout_s) from None
    finally:
        tx.rollback()
    return {"columns": columns, "rows": [[_plain(v) for _, v in r] for r in rows], "row_count": len(rows)}


def _describe(conn: Connection, sql: str) -> list[str]:
    """Column names of a statement that returned no rows (parse analysis only: nothing runs)."""
    pgconn = getattr(conn.connection.dbapi_connection, "pgconn", None)
    if pgconn is None:
        return []
    from psycopg import pq

    if pgconn.prepare(b"", sql.encode()).status != pq.ExecStatus.COMMAND_OK:
        return []
    desc = pgconn.describe_prepared(b"")
    return [(desc.fname(i) or b"").decode() for i in range(desc.nfields)]


def _pg_error(exc: DBAPIError, timeout_s: float) -> Exception:
    state = getattr(exc.orig, "sqlstate", None)
    message = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
    if state == "57014":  # query_canceled: the statement timeout
        return TimeoutError(f"query exceeded the {timeout_s:.1f} s statement timeout")
    if state in ("42501", "25006"):  # insufficient_privilege, read_only_sql_transaction
        return ReadDenied(message)
    return RuntimeError(message)
