"""Validate SQL an LLM wrote: one SELECT over allow-listed read-only views, allow-listed functions, a row limit."""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

VIEWS = frozenset({"chat_decisions", "chat_alerts", "chat_audit", "chat_feedback", "chat_models"})
FUNCTIONS = frozenset({
    "count", "sum", "avg", "min", "max", "abs", "round", "coalesce", "lower", "upper", "length", "substr",
    "substring", "cast", "trycast", "if", "case", "nullif", "date", "datetime", "strftime", "timestrtotime",
    "strtotime", "timetostr", "totime", "unixtotime", "totimestamp", "datetrunc", "timestamptrunc", "extract",
    "like", "ilike", "in", "between", "concat", "dpipe", "stddev", "stddevpop", "stddevsamp", "variance",
    "groupconcat", "stringagg", "arrayagg", "distinct", "median", "percentilecont", "quantile",
    "tsordstotimestamp", "tsordstodate", "timestrtodate", "unixtodate", "currenttimestamp", "currentdate",
    "datediff", "dateadd", "datesub", "timestampdiff", "julianday", "floor", "ceil", "sign", "sqrt",
})
FORBIDDEN = (exp.Insert, exp.Update, exp.Delete, exp.Drop, exp.Create, exp.Alter, exp.Command, exp.Pragma,
             exp.Attach, exp.Detach, exp.Into, exp.Merge, exp.TruncateTable, exp.Transaction, exp.Commit,
             exp.Rollback, exp.Grant)
MAX_ROWS = 200


class SqlRejected(ValueError):
    """The statement is not one safe read over the allowed views."""


@dataclass
class CheckedSql:
    sql: str
    tables: list[str]
    limit: int


def check_sql(sql: str, *, dialect: str = "sqlite", max_rows: int = MAX_ROWS) -> CheckedSql:
    """Parse, check and normalize; raises SqlRejected with the reason."""
    if len(sql) > 4000:
        raise SqlRejected("statement longer than 4000 characters")
    try:
        trees = [t for t in sqlglot.parse(sql, read=dialect) if t is not None]
    except sqlglot.errors.ParseError as exc:
        raise SqlRejected(f"not valid SQL: {str(exc).splitlines()[0][:200]}") from None
    if len(trees) != 1:
        raise SqlRejected("exactly one statement is allowed")
    tree = trees[0]
    if not isinstance(tree, (exp.Select, exp.Union)):
        raise SqlRejected(f"only SELECT is allowed, not {type(tree).__name__.upper()}")
    bad = next(tree.find_all(*FORBIDDEN), None)
    if bad is not None:
        raise SqlRejected(f"{type(bad).__name__.upper()} is not allowed")
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    tables = sorted({t.name for t in tree.find_all(exp.Table)})
    outside = [t for t in tables if t not in VIEWS and t not in ctes]
    if outside:
        raise SqlRejected(f"tables {outside} are not readable here; use the views {sorted(VIEWS)}")
    for t in tree.find_all(exp.Table):
        if t.args.get("db") or t.args.get("catalog"):
            raise SqlRejected("schema-qualified names are not allowed")
    for f in tree.find_all(exp.Func):
        name = (f.name if isinstance(f, exp.Anonymous) else f.key).lower().replace("_", "")
        if name not in FUNCTIONS:
            raise SqlRejected(f"function {name!r} is not allowed")
    limit = max_rows
    current = tree.args.get("limit")
    if current is not None and isinstance(current.expression, exp.Literal) and current.expression.is_int:
        limit = min(int(current.expression.this), max_rows)
    tree = tree.limit(limit) if isinstance(tree, exp.Select) else exp.select("*").from_(tree.subquery("q")).limit(limit)
    return CheckedSql(sql=tree.sql(dialect=dialect), tables=[t for t in tables if t in VIEWS], limit=limit)
