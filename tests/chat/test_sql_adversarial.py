"""An adversarial corpus against the chat's SQL, on SQLite and PostgreSQL: the guard refuses every statement (scope
leaks, CTE shadowing, recursive bombs, UNION, qualified and quoted names, catalogs, pragmas, comments, several
statements, ATTACH, load_extension), and the database refuses on its own what would read past the views when the
guard is bypassed (SQLite authorizer; PostgreSQL role). Refusals are `refused` and audited as chat.tool_refused;
a failed or timed-out statement is `error`."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, insert, text

from graph.chat import ChatContext, run_tool
from policies.sql_guard import SqlRejected, check_sql
from store import keys
from store.audit import AuditRecord, append
from store.chat_access import ReadDenied
from store.engine import init_db, make_engine, write_tx
from store.readonly import relation_names, run_readonly
from store.tables import DecisionRow
from tests.chat.conftest import LLM_KEY, chat_audit, chat_env, start_stack
from tests.helpers import pg_schema_url
from tests.llm_server import Reply, ScriptedLLM, ToolCall
from tools.chat_tools import chat_tools

SECRET_HASH = "5ec2e7" + "ab" * 29  # an API key's hash: no chat statement may ever return it
SECRET_PAYLOAD = "payload-secret-91f3"  # in an audit event's payload (the view chat_audit has no payload)
SECRET_OUTPUT = "outputs-secret-44d0"  # in a decision's outputs (no view column)
ISSUE_NESTED = ("SELECT k.id, k.key_hash FROM (WITH api_keys AS (SELECT 1 AS one) SELECT one FROM api_keys) AS s, "
                "api_keys AS k")
ISSUE_TOP = "WITH api_keys AS (SELECT * FROM api_keys) SELECT id, key_hash FROM api_keys"

CORPUS = [
    # scopes: a CTE shadows only inside its own scope; none may be named like a table or view
    ISSUE_NESTED,
    ISSUE_TOP,
    "SELECT * FROM (WITH k AS (SELECT 1 AS one) SELECT one FROM k) AS s, k",
    "WITH a AS (WITH api_keys AS (SELECT 1 AS x) SELECT x FROM api_keys) SELECT * FROM a, api_keys",
    "SELECT id FROM chat_decisions WHERE id IN (WITH q AS (SELECT 'x') SELECT * FROM q) OR id IN (SELECT * FROM q)",
    "WITH a AS (SELECT * FROM b), b AS (SELECT key_hash FROM api_keys) SELECT * FROM a",
    "WITH chat_decisions AS (SELECT key_hash AS id FROM api_keys) SELECT id FROM chat_decisions",
    "WITH Chat_Audit AS (SELECT payload FROM audit_events) SELECT * FROM chat_audit",
    'WITH "CHAT_DECISIONS" AS (SELECT * FROM api_keys) SELECT * FROM "CHAT_DECISIONS"',
    "WITH API_KEYS AS (SELECT 1 AS id) SELECT id FROM chat_decisions",
    "WITH x AS MATERIALIZED (SELECT key_hash FROM api_keys) SELECT * FROM x",
    # recursive CTEs
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r, api_keys) SELECT count(*) FROM r",
    "WITH RECURSIVE api_keys(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM api_keys WHERE n < 5) SELECT * FROM api_keys",
    "WITH RECURSIVE r(s) AS (SELECT 'x' UNION ALL SELECT replace(s, 'x', 'xx') FROM r) SELECT length(s) FROM r",
    "WITH RECURSIVE r(b) AS (SELECT randomblob(1000000) UNION ALL SELECT b FROM r) SELECT count(*) FROM r",
    # set operations, subqueries, joins
    "SELECT id FROM chat_decisions UNION SELECT key_hash FROM api_keys",
    "WITH a AS (SELECT id FROM chat_alerts UNION ALL SELECT payload FROM audit_events) SELECT * FROM a",
    "SELECT id FROM chat_decisions EXCEPT SELECT id FROM decisions",
    "SELECT (SELECT key_hash FROM api_keys LIMIT 1) AS k FROM chat_decisions",
    "SELECT * FROM chat_decisions WHERE EXISTS (SELECT 1 FROM api_keys WHERE key_hash LIKE 'a%')",
    "SELECT * FROM chat_decisions, LATERAL (SELECT key_hash FROM api_keys) AS k",
    "SELECT * FROM (SELECT key_hash FROM api_keys) AS chat_decisions",
    "SELECT * FROM chat_decisions NATURAL JOIN api_keys",
    "SELECT * FROM chat_decisions JOIN api_keys USING (id)",
    # qualified and quoted names, in any case
    "SELECT * FROM main.api_keys",
    "SELECT * FROM main.chat_decisions",
    "SELECT * FROM public.api_keys",
    'SELECT * FROM "API_KEYS"',
    'SELECT * FROM "Api_Keys"',
    'SELECT * FROM "main"."api_keys"',
    'SELECT * FROM chat_decisions WHERE id = (SELECT key_hash FROM "main"."api_keys")',
    # catalogs, pragmas, table-valued functions
    "SELECT * FROM sqlite_master",
    "SELECT sql FROM sqlite_schema",
    "SELECT group_concat(sql) FROM temp.sqlite_master",
    'SELECT sql FROM "SQLITE_MASTER"',
    "SELECT * FROM pragma_table_info('api_keys')",
    "SELECT name FROM chat_decisions, pragma_table_list",
    "PRAGMA table_info(api_keys)",
    "SELECT * FROM json_each((SELECT group_concat(key_hash) FROM api_keys))",
    "SELECT * FROM information_schema.tables",
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'api_keys'",
    "SELECT relname FROM pg_catalog.pg_class",
    "SELECT * FROM pg_tables",
    "SELECT rolname, rolpassword FROM pg_authid",
    "SELECT * FROM generate_series(1, 1000000000)",
    "SELECT CAST('api_keys' AS regclass)",
    # functions
    "SELECT pg_catalog.pg_read_file('/etc/passwd')",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT set_config('role', 'postgres', true), query_to_xml('select key_hash from api_keys', true, false, '')",
    "SELECT pg_sleep(10) FROM chat_decisions",
    "SELECT randomblob(1000000000)",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT * FROM chat_decisions WHERE load_extension('/tmp/evil.so') IS NULL",
    # comments, several statements, writes, ATTACH
    "SELECT id FROM chat_decisions -- harmless\n UNION SELECT key_hash FROM api_keys",
    "SELECT key_hash FROM/**/api_keys",
    "SELECT 1 FROM chat_decisions; SELECT key_hash FROM api_keys",
    "SELECT 1 FROM chat_decisions; -- and then\n DELETE FROM decisions",
    "ATTACH DATABASE '/tmp/stolen.db' AS x",
    "SELECT * FROM chat_decisions; ATTACH DATABASE ':memory:' AS x",
    "WITH d AS (DELETE FROM decisions RETURNING id) SELECT * FROM d",
    "SELECT * INTO stolen FROM chat_decisions",
    "SELECT * FROM chat_decisions FOR UPDATE",
    "UPDATE alerts SET state = 'resolved'",
    "TABLE api_keys",
    "VALUES ((SELECT key_hash FROM api_keys))",
]

# Statements that would read past the views, or write: run on the database directly (the guard bypassed), each must
# be refused by the database itself.
BYPASS = [
    "SELECT key_hash FROM api_keys",
    "SELECT count(*) FROM api_keys",
    ISSUE_NESTED,
    "WITH chat_decisions AS (SELECT key_hash AS id FROM api_keys) SELECT id FROM chat_decisions",
    "WITH chat_audit AS (SELECT payload FROM audit_events) SELECT * FROM chat_audit",
    "WITH chat_decisions AS (SELECT outputs AS id FROM decisions) SELECT id FROM chat_decisions",
    "SELECT id FROM chat_decisions UNION SELECT key_hash FROM api_keys",
    "SELECT (SELECT key_hash FROM api_keys) AS k FROM chat_audit",
    "SELECT payload FROM audit_events",
    "SELECT outputs FROM decisions",
    "SELECT * FROM chat_decisions WHERE id IN (SELECT key_hash FROM api_keys)",
    "DELETE FROM decisions",
    "UPDATE alerts SET state = 'resolved'",
    "INSERT INTO feedback (id) VALUES ('x')",
]
BYPASS_SQLITE = [
    "SELECT * FROM sqlite_master",
    "SELECT sql FROM sqlite_schema",
    "SELECT * FROM pragma_table_info('api_keys')",
    "PRAGMA table_info(api_keys)",
    "ATTACH DATABASE ':memory:' AS x",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT randomblob(10)",
    "SELECT * FROM json_each('[1]')",
]
BYPASS_PG = [
    ISSUE_TOP,
    "SELECT set_config('role', 'postgres', true), query_to_xml('select key_hash from api_keys', true, false, '')",
    "SELECT query_to_xml('select key_hash from api_keys', true, false, '')",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT 1; SELECT key_hash FROM api_keys",
    "RESET ROLE",
    "SELECT * FROM chat_decisions FOR UPDATE",
    "COPY api_keys TO STDOUT",
]
SECRETS = (SECRET_HASH, SECRET_PAYLOAD, SECRET_OUTPUT)
BOMB = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) AS n FROM r"


def seed(engine: Engine) -> None:
    """An API key, an audit event and a decision, each carrying a secret no chat statement may return."""
    keys.create(engine, name="secret", role="admin", key_hash=SECRET_HASH, prefix="sk-5ec", actor="test")
    now = "2026-01-01T00:00:00Z"
    row: dict[str, Any] = {
        "id": "dec_adversarial", "created_at": now, "profile": "peg", "stream": "USDC-adv", "event_ts": 1.0e9,
        "request_id": None, "batch_id": "b1", "label": "normal", "severity": 1, "score": 0.1, "action": "none",
        "disagreement": 0.0, "inputs": {"value": 0.99}, "outputs": {"note": SECRET_OUTPUT}, "router": {"arm": "a0"},
        "signals": [], "rules": [], "governor": {}, "model_versions": {}, "explanation": {},
        "explanation_status": "template", "content_sha256": "0" * 64}
    with write_tx(engine) as conn:
        conn.execute(insert(DecisionRow.__table__), [row])  # type: ignore[attr-defined]
        append(conn, [AuditRecord("test", "test.secret", "test", "x", {"secret": SECRET_PAYLOAD})])


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('adv') / 'studio.db'}")
    init_db(eng)
    seed(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    base = os.environ.get("STUDIO_TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL tests need STUDIO_TEST_DATABASE_URL (set by .ci/run)")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    eng = make_engine(pg_schema_url(base, schema))
    init_db(eng)
    init_db(eng)  # idempotent: the role, its grants and the function are set up again without error
    seed(eng)
    try:
        yield eng
    finally:
        eng.dispose()
        admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue("pg_engine" if request.param == "postgres" else "sqlite_engine")  # type: ignore[no-any-return]


def dialect(engine: Engine) -> str:
    return "postgres" if engine.dialect.name == "postgresql" else "sqlite"


def ctx(engine: Engine) -> ChatContext:
    async def none() -> list[tuple[str, str]]:
        return []

    async def years(_p: str, _s: str) -> list[int]:
        return []

    tools = {t.name: t for t in chat_tools(engine)}
    return ChatContext(tools=tools, provider=None, prompt=None, profiles=[], exists=lambda _i: False, streams=none,
                       stream_years=years)


def test_the_corpus_is_large_and_covers_each_family() -> None:
    assert len(CORPUS) >= 40 and len(set(CORPUS)) == len(CORPUS)
    joined = "\n".join(CORPUS).lower()
    for needle in ("with recursive", "union", "main.", '"api_keys"', "sqlite_master",
                   "sqlite_schema", "pragma_", "information_schema", "pg_catalog", "--", "/**/", "; ", "attach",
                   "load_extension"):
        assert needle in joined, needle


@pytest.mark.parametrize("sql", CORPUS)
def test_the_guard_refuses(engine: Engine, sql: str) -> None:
    with pytest.raises(SqlRejected):
        check_sql(sql, dialect=dialect(engine), reserved=relation_names(engine))


@pytest.mark.parametrize("sql", [ISSUE_NESTED, ISSUE_TOP])
def test_the_issue_examples_are_refused_by_scope_alone(sql: str) -> None:
    """Even without the database's table names (so the CTE name rule does not apply), `api_keys` outside the
    CTE's scope, or inside its own body, resolves to the real table."""
    for d in ("sqlite", "postgres"):
        with pytest.raises(SqlRejected, match="not readable"):
            check_sql(sql, dialect=d)


@pytest.mark.parametrize("sql", [
    "WITH x AS (SELECT id, severity FROM chat_alerts) SELECT * FROM x WHERE severity > 5",
    "WITH X AS (SELECT id FROM chat_decisions) SELECT * FROM x",  # unquoted names fold as the database folds them
    "SELECT * FROM (WITH k AS (SELECT id FROM chat_decisions) SELECT id FROM k) AS s",
    "WITH a AS (SELECT id FROM chat_decisions), b AS (SELECT id FROM a) SELECT * FROM b",
    "SELECT id FROM chat_decisions UNION SELECT first_decision_id FROM chat_alerts",
    "SELECT d.id FROM chat_decisions AS d JOIN chat_alerts AS a ON a.first_decision_id = d.id",
    "SELECT * FROM Chat_Decisions WHERE stream LIKE '%USDC%' /* a comment */",
    "SELECT id FROM chat_decisions WHERE (severity > 5 AND action <> 'none') OR score BETWEEN 0.5 AND 1",
    "SELECT id FROM chat_alerts AS a WHERE EXISTS (SELECT 1 FROM chat_decisions AS d WHERE d.id = a.first_decision_id)",
    "SELECT CURRENT_TIMESTAMP AS now, count(*) AS n FROM chat_feedback",
    BOMB,
])
def test_reads_over_the_views_pass(engine: Engine, sql: str) -> None:
    out = check_sql(sql, dialect=dialect(engine), reserved=relation_names(engine))
    assert "/*" not in out.sql and out.sql.endswith("LIMIT 200")
    if sql != BOMB:  # and the database runs them (the bomb times out: test_tool_statuses_refused_and_error)
        assert run_readonly(engine, out.sql)["columns"]


def _bypass(engine: Engine) -> list[str]:
    return BYPASS + (BYPASS_PG if engine.dialect.name == "postgresql" else BYPASS_SQLITE)


def test_the_database_refuses_what_slips_past_the_guard(engine: Engine) -> None:
    for sql in _bypass(engine):
        with pytest.raises(ReadDenied) as caught:
            run_readonly(engine, sql)  # straight to the database layer, no guard
        assert not any(s in str(caught.value) for s in SECRETS), sql
    with engine.connect() as conn:  # nothing was written
        assert conn.execute(text("SELECT count(*) FROM decisions")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM alerts WHERE state = 'resolved'")).scalar_one() == 0


def test_views_still_read_everything_they_show(engine: Engine) -> None:
    sql = check_sql("SELECT id, stream, value, arm FROM chat_decisions WHERE stream LIKE '%USDC%'",
                    dialect=dialect(engine)).sql
    assert run_readonly(engine, sql)["rows"] == [["dec_adversarial", "USDC-adv", 0.99, "a0"]]  # '%' on psycopg too
    out = run_readonly(engine, "SELECT action, count(*) AS n FROM chat_audit WHERE action LIKE 'test.%' GROUP BY 1")
    assert out["columns"] == ["action", "n"] and out["rows"] == [["test.secret", 1]]
    empty = run_readonly(engine, "SELECT id AS a, severity AS b FROM chat_alerts")
    assert empty == {"columns": ["a", "b"], "rows": [], "row_count": 0}


async def test_tool_statuses_refused_and_error(engine: Engine) -> None:
    c = ctx(engine)
    for sql in CORPUS + _bypass(engine):
        result, entry = await run_tool(c, "sql_query", {"sql": sql})
        assert entry["status"] == "refused" and "refused" in result, sql
        assert not any(s in str(result) for s in SECRETS), sql
    ok, entry = await run_tool(c, "sql_query", {"sql": "SELECT id FROM chat_decisions WHERE stream LIKE '%adv%'"})
    assert entry["status"] == "ok" and ok["rows"] == [["dec_adversarial"]]
    failed, entry = await run_tool(c, "sql_query", {"sql": "SELECT no_such_column FROM chat_decisions"})
    assert entry["status"] == "error" and "no_such_column" in failed["error"]
    timed_out, entry = await run_tool(c, "sql_query", {"sql": BOMB})
    assert entry["status"] == "error" and timed_out["error"].startswith("TimeoutError")


def test_refusals_are_audited_over_http(trained_var: Path, tmp_path: Path) -> None:
    """Through the server and the scripted LLM (SQLite): every refusal is chat.tool_refused, and a statement that
    fails or times out is reported and audited with status `error`, not `ok`."""
    shutil.copy(trained_var / "studio.db", tmp_path / "studio.db")
    calls = [ToolCall("sql_query", {"sql": s}) for s in CORPUS]
    calls += [ToolCall("sql_query", {"sql": BOMB}), ToolCall("sql_query", {"sql": "SELECT nope FROM chat_alerts"})]
    with ScriptedLLM(api_key=LLM_KEY) as llm:
        stack = start_stack(chat_env(tmp_path, trained_var, llm))
        try:
            llm.script(Reply(tool_calls=calls), Reply(content="Those statements were refused or failed."))
            with stack.client() as c:
                r = c.post("/v1/chat", json={"message": "Show me everything, keys included."})
                assert r.status_code == 200, r.text
                out = r.json()
                audited = chat_audit(c, out["thread_id"])
        finally:
            stack.server.stop()
    assert [t["status"] for t in out["tool_calls"]] == ["refused"] * len(CORPUS) + ["error", "error"]
    refused = [e for e in audited if e["action"] == "chat.tool_refused"]
    assert [e["payload"]["args"]["sql"] for e in refused] == CORPUS
    errors = [e for e in audited if e["action"] == "chat.tool_call"]
    assert [e["payload"]["status"] for e in errors] == ["error", "error"]
    admin_hash = hashlib.sha256((stack.server.admin_key or "?").encode()).hexdigest()
    assert admin_hash not in " ".join(r["raw"] for r in llm.requests)  # no key hash reached the model
