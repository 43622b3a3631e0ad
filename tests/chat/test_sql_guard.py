"""The SQL the chat's model may write: one SELECT over allow-listed views, limited, on a read-only connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.sql_guard import SqlRejected, check_sql
from store.engine import init_db, make_engine
from store.readonly import run_readonly


@pytest.mark.parametrize("sql", [
    "SELECT action, count(*) AS n FROM chat_decisions GROUP BY action",
    "WITH x AS (SELECT id, severity FROM chat_alerts) SELECT * FROM x WHERE severity > 5",
    "SELECT strftime('%Y-%m', created_at) AS m, avg(score) FROM chat_decisions GROUP BY 1",
    "SELECT subject_id FROM chat_audit WHERE action = 'decision.recorded' ORDER BY seq DESC LIMIT 5",
])
def test_allowed_reads_get_a_limit(sql: str) -> None:
    out = check_sql(sql)
    assert out.sql.upper().rstrip().split()[-2] == "LIMIT" and out.limit <= 200


@pytest.mark.parametrize(("sql", "reason"), [
    ("DELETE FROM decisions", "only SELECT"),
    ("UPDATE alerts SET state = 'resolved'", "only SELECT"),
    ("DROP TABLE audit_events", "only SELECT"),
    ("INSERT INTO feedback VALUES (1)", "only SELECT"),
    ("SELECT * FROM api_keys", "not readable"),
    ("SELECT key_hash FROM chat_decisions JOIN api_keys ON 1 = 1", "not readable"),
    ("SELECT * FROM (SELECT * FROM api_keys) AS t", "not readable"),
    ("SELECT * FROM decisions", "not readable"),
    ("SELECT * FROM sqlite_master", "not readable"),
    ("SELECT 1; DELETE FROM decisions", "exactly one statement"),
    ("PRAGMA writable_schema = 1", "only SELECT"),
    ("ATTACH DATABASE '/tmp/x.db' AS x", "only SELECT"),
    ("SELECT load_extension('evil')", "not allowed"),
    ("SELECT pg_read_file('/etc/passwd')", "not allowed"),
    ("SELECT * FROM main.chat_decisions", "schema-qualified"),
    ("SELEC * FROM chat_alerts", "only SELECT|not valid SQL"),
])
def test_refused(sql: str, reason: str) -> None:
    with pytest.raises(SqlRejected, match=reason):
        check_sql(sql)


def test_read_only_connection_and_timeout(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    init_db(eng)
    assert run_readonly(eng, check_sql("SELECT count(*) AS n FROM chat_audit").sql)["rows"] == [[0]]
    with pytest.raises(Exception, match="readonly"):
        run_readonly(eng, "DELETE FROM audit_events")  # even unchecked SQL cannot write here
    with pytest.raises(TimeoutError):
        run_readonly(eng, "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r",
                     timeout_s=0.3)


def test_postgres_read_only_transaction(pg_url: str) -> None:
    eng = make_engine(pg_url)
    init_db(eng)
    assert run_readonly(eng, check_sql("SELECT count(*) AS n FROM chat_audit", dialect="postgres").sql)["rows"]
    with pytest.raises(Exception, match="read-only"):
        run_readonly(eng, "DELETE FROM audit_events")
    with pytest.raises(Exception, match="statement timeout"):
        run_readonly(eng, "SELECT pg_sleep(5)", timeout_s=0.3)
    eng.dispose()
