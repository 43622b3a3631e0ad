"""Audit test helpers: a fresh SQLite or PostgreSQL database (no trained models needed), appending events, and
what an attacker with database access does (drop the append-only guards, delete or rewrite rows)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from core.settings import Settings
from store import audit
from store.audit import AuditRecord
from store.engine import init_db, make_engine, write_tx
from tests.helpers import pg_schema_url, sqlite_url

PG_SKIP = "PostgreSQL tests need STUDIO_TEST_DATABASE_URL (set by .ci/run)"


@contextmanager
def audit_db(kind: str, tmp_path: Path) -> Iterator[tuple[Settings, Engine]]:
    """Settings (own var dir) and an initialised engine on a new SQLite file or a new PostgreSQL schema."""
    schema = None
    base = os.environ.get("STUDIO_TEST_DATABASE_URL", "")
    if kind == "sqlite":
        url = sqlite_url(tmp_path / "audit.db")
    else:
        if not base:
            pytest.skip(PG_SKIP)
        schema = f"t_{uuid.uuid4().hex[:10]}"
        url = pg_schema_url(base, schema)
    settings = Settings(var_dir=tmp_path / "var", database_url=url, env="test", train_on_start=False)
    engine = make_engine(url)
    init_db(engine)
    try:
        yield settings, engine
    finally:
        engine.dispose()
        if schema is not None:
            eng = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
            with eng.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            eng.dispose()


def append_events(engine: Engine, n: int, tag: str = "t", *, one_transaction: bool = False) -> None:
    """n test events, each in its own transaction (or all in one: the head moves from n-before to n-after at once)."""
    records = [AuditRecord("test", "test.event", "thing", f"{tag}{i}", {"i": i, "tag": tag}) for i in range(n)]
    for chunk in ([records] if one_transaction else [[r] for r in records]):
        with write_tx(engine) as conn:
            audit.append(conn, chunk)


def unguard(engine: Engine) -> None:
    """Drop the append-only triggers of the audit tables, as someone with database access can."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for name in ("audit_no_update", "audit_no_delete", "audit_checkpoints_append_only",
                         "audit_checkpoints_no_delete"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        else:
            for table in ("audit_events", "audit_checkpoints"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS audit_append_only ON {table}"))


def execute(engine: Engine, sql: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)
