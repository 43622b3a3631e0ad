"""Alembic owns the schema: a new database gets every revision and matches the tables in store/tables.py; a
database made by create_all before Alembic (today's main) upgrades in place and keeps its rows; a revision the
code does not know is refused with what to run. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlmodel import SQLModel

import store.tables  # noqa: F401
from store import schema
from store.engine import init_db, make_engine, write_tx
from tests.helpers import pg_schema_url, sqlite_url

PG_SKIP = "PostgreSQL tests need STUDIO_TEST_DATABASE_URL (set by .ci/run)"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    base = os.environ.get("STUDIO_TEST_DATABASE_URL", "")
    name = None
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "m.db")
    else:
        if not base:
            pytest.skip(PG_SKIP)
        name = f"m_{uuid.uuid4().hex[:10]}"
        url = pg_schema_url(base, name)
    eng = make_engine(url)
    yield eng
    eng.dispose()
    if name is not None:
        admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


def differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)


def test_a_new_database_gets_every_revision_and_matches_the_tables(engine: Engine) -> None:
    assert schema.describe(engine)["state"] == "empty"
    init_db(engine)
    assert schema.describe(engine) == {"revision": schema.head(), "head": schema.head(), "state": "current"}
    assert differences(engine) == []
    init_db(engine)  # idempotent: a second start changes nothing
    assert schema.describe(engine)["state"] == "current"


def test_a_database_made_before_alembic_upgrades_in_place_and_keeps_its_rows(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine)  # what init_db did before Alembic owned the schema
    with write_tx(engine) as conn:
        conn.execute(text("INSERT INTO watchlist_entries (id, kind, value, profile, reason, created_at, created_by, "
                          "active) VALUES ('w1', 'token', 'UST', 'peg', 'depegged', '2026-12-01T00:00:00Z', 't', "
                          ":on)"), {"on": True})
    assert schema.describe(engine)["state"] == "before_alembic"
    init_db(engine)
    assert schema.describe(engine)["state"] == "current"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM watchlist_entries WHERE id = 'w1'")).scalar_one() == "UST"
        assert schema.current(conn) == schema.head()
    assert differences(engine) == []


def test_a_revision_this_code_does_not_know_is_refused_with_what_to_run(engine: Engine) -> None:
    init_db(engine)
    with write_tx(engine) as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    assert schema.describe(engine)["state"] == "unknown"
    with pytest.raises(schema.SchemaUnknown) as err:
        init_db(engine)
    assert "'f00d'" in err.value.message and f"studio db downgrade {schema.head()}" in err.value.message
    assert err.value.details == {"database_revision": "f00d", "code_head": schema.head()}
    assert "decisions" in inspect(engine).get_table_names()  # nothing was dropped


def test_studio_serve_refuses_an_unknown_revision_and_says_what_to_run(tmp_path: Path) -> None:
    import subprocess
    import sys

    from studio import PROJECT_ROOT

    url = sqlite_url(tmp_path / "s.db")
    eng = make_engine(url)
    init_db(eng)
    with write_tx(eng) as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    eng.dispose()
    env = {**os.environ, "STUDIO_DATABASE_URL": url, "STUDIO_VAR_DIR": str(tmp_path / "var")}
    run = subprocess.run([sys.executable, "-m", "studio.cli", "serve", "--no-train", "--port", "0"], cwd=PROJECT_ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert f"`studio db downgrade {schema.head()}`" in run.stderr and "Traceback" not in run.stderr
    current = subprocess.run([sys.executable, "-m", "studio.cli", "db", "current"], cwd=PROJECT_ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert '"state": "unknown"' in current.stdout
