"""Validate SQL an LLM wrote: one SELECT over allow-listed read-only views, allow-listed functions, a row limit.

Every table reference is resolved in its own scope (sqlglot's scope machinery, after the dialect's identifier
normalization, so names compare the way the database compares them): it is a CTE only where that CTE is
visible, otherwise it must be one of the views. A CTE may not be named like a real table or view."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import traverse_scope

VIEWS = frozenset({"chat_decisions", "chat_alerts", "chat_audit", "chat_feedback", "chat_models"})
FUNCTIONS = frozenset({
    "count", "sum", "avg", "min", "max", "abs", "round", "coalesce", "lower", "upper", "length", "substr",
    "substring", "cast", "trycast", "if", "case", "nullif", "date", "datetime", "strftime", "timestrtotime",
    "strtotime", "timetostr", "totime", "unixtotime", "totimestamp", "datetrunc", "timestamptrunc", "extract",
    "like", "ilike", "in", "between", "concat", "dpipe", "stddev", "stddevpop", "stddevsamp", "variance",
    "groupconcat", "stringagg", "arrayagg", "distinct", "median", "percentilecont", "quantile",
    "tsordstotimestamp", "tsordstodate", "timestrtodate", "unixtodate", "currenttimestamp", "currentdate",
    "datediff", "dateadd", "datesub", "timestampdiff", "julianday", "floor", "ceil", "sign", "sqrt", "exists",
})
T = exp.DataType.Type
CAST_TYPES = frozenset({T.INT, T.BIGINT, T.SMALLINT, T.TINYINT, T.FLOAT, T.DOUBLE, T.DECIMAL, T.TEXT, T.VARCHAR,
                        T.CHAR, T.DATE, T.DATETIME, T.TIMESTAMP, T.TIMESTAMPTZ, T.TIME, T.BOOLEAN})
FORBIDDEN = (exp.Insert, exp.Update, exp.Delete, exp.Drop, exp.Create, exp.Alter, exp.Command, exp.Pragma,
             exp.Attach, exp.Detach, exp.Into, exp.Merge, exp.TruncateTable, exp.Transaction, exp.Commit,
             exp.Rollback, exp.Grant, exp.Lock)
SYSTEM_PREFIXES = ("sqlite_", "pg_")  # catalog relations of SQLite and PostgreSQL
SYSTEM_NAMES = frozenset({"information_schema"})
MAX_ROWS = 200


class SqlRejected(ValueError):
    """The statement is not one safe read over the allowed views."""


@dataclass
class CheckedSql:
    sql: str
    tables: list[str]
    limit: int


def check_sql(sql: str, *, dialect: str = "sqlite", max_rows: int = MAX_ROWS,
              reserved: Iterable[str] = ()) -> CheckedSql:
    """Parse, check and normalize; raises SqlRejected with the reason. `reserved`: the names of the database's
    real tables and views (no CTE may take one of them; the views and catalog names are always reserved)."""
    if len(sql) > 4000:
        raise SqlRejected("statement longer than 4000 characters")
    try:
        trees = [t for t in sqlglot.parse(sql, read=dialect) if t is not None]
    except (SqlglotError, RecursionError) as exc:
        raise SqlRejected(f"not valid SQL: {str(exc).splitlines()[0][:200] if str(exc) else 'too deep'}") from None
    if len(trees) != 1:
        raise SqlRejected("exactly one statement is allowed")
    tree = trees[0]
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        raise SqlRejected(f"only SELECT is allowed, not {type(tree).__name__.upper()}")
    bad = next(tree.find_all(*FORBIDDEN), None)
    if bad is not None:
        raise SqlRejected(f"{type(bad).__name__.upper()} is not allowed")
    norm = normalize_identifiers(tree.copy(), dialect=dialect)  # unquoted names folded as the database folds them
    _check_cte_names(norm, reserved)
    views = _check_references(norm)
    _check_functions(norm)
    limit = max_rows
    current = tree.args.get("limit")
    if current is not None and isinstance(current.expression, exp.Literal) and current.expression.is_int:
        limit = min(int(current.expression.this), max_rows)
    tree = tree.limit(limit) if isinstance(tree, exp.Select) else exp.select("*").from_(tree.subquery("q")).limit(limit)
    # comments=False: what runs is exactly the checked tree, nothing hidden in a comment
    return CheckedSql(sql=tree.sql(dialect=dialect, comments=False), tables=sorted(views), limit=limit)


def _taken(name: str, reserved: set[str]) -> bool:
    low = name.lower()
    return low in VIEWS or low in reserved or low in SYSTEM_NAMES or low.startswith(SYSTEM_PREFIXES)


def _check_cte_names(tree: exp.Expr, reserved: Iterable[str]) -> None:
    taken = {r.lower() for r in reserved}
    for cte in tree.find_all(exp.CTE):
        if _taken(cte.alias_or_name, taken):
            raise SqlRejected(f"a CTE may not be named like a table or view ({cte.alias_or_name!r}); rename it")


def _check_references(tree: exp.Expr) -> set[str]:
    """Resolve every table reference in its own scope; return the views read. A name that is a CTE in one scope
    is the real relation everywhere that CTE is not visible."""
    try:
        scopes = traverse_scope(tree)
    except (OptimizeError, SqlglotError, RecursionError) as exc:
        raise SqlRejected(f"the statement's sources cannot be resolved: {str(exc)[:200]}") from None
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    seen: set[int] = set()
    views: set[str] = set()
    outside: set[str] = set()
    for scope in scopes:
        for table in scope.tables:
            seen.add(id(table))
            if table.args.get("db") or table.args.get("catalog"):
                raise SqlRejected("schema-qualified names are not allowed")
            if not isinstance(table.this, exp.Identifier):
                what = table.this.sql()[:80] if table.this is not None else table.sql()[:80]
                raise SqlRejected(f"only the views {sorted(VIEWS)} can be read, not {what!r}")
            if table.name in scope.cte_sources:
                continue  # a CTE visible here
            if table.name in VIEWS:
                views.add(table.name)
            else:
                outside.add(table.name)
    if outside:
        hint = "; a CTE is visible only inside its own WITH (a recursive one needs WITH RECURSIVE)" if (
            outside & ctes) else ""
        raise SqlRejected(f"tables {sorted(outside)} are not readable here; use the views {sorted(VIEWS)}{hint}")
    if any(id(t) not in seen for t in tree.find_all(exp.Table)):
        raise SqlRejected("a table reference could not be resolved to a view or a CTE")
    return views


def _check_functions(tree: exp.Expr) -> None:
    for f in tree.find_all(exp.Func):
        if isinstance(f, exp.Connector):  # AND, OR: operators, though sqlglot models them as functions
            continue
        name = (f.name if isinstance(f, exp.Anonymous) else f.key).lower().replace("_", "")
        if name not in FUNCTIONS:
            raise SqlRejected(f"function {name!r} is not allowed")
        if isinstance(f.parent, exp.Dot):
            raise SqlRejected("schema-qualified functions are not allowed")
        if isinstance(f, exp.Cast) and not f.to.is_type(*CAST_TYPES):
            raise SqlRejected(f"cast to {f.to.sql()!r} is not allowed")
