"""The database schema's version, owned by Alembic (`store/migrations/`).

On start (`init_db`) the service brings the schema to this code's head revision: an empty database gets every
revision; a database made before Alembic (tables, no `alembic_version`) is recognised as the first revision
(`0001`, what `create_all` made) and upgraded in place; a database at a revision this code does not know (made
by a newer version) is refused with what to run. On PostgreSQL a transaction-scoped advisory lock makes
replicas that start together migrate one after another.
"""

from __future__ import annotations

import logging
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from core.errors import ErrorCode, StudioError

BASELINE = "0001"  # the schema create_all made before Alembic owned it
MIGRATION_LOCK = 7_420_001  # pg_advisory_xact_lock key: one migrating process at a time
log = logging.getLogger(__name__)


class SchemaUnknown(StudioError):
    """The database is at a schema revision this version of the service does not know."""

    code = ErrorCode.UNAVAILABLE


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "store:migrations")
    cfg.set_main_option("file_template", "r%%(rev)s_%%(slug)s")  # importable module names
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    rev = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert rev is not None
    return rev


def known() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def describe(engine: Engine) -> dict[str, Any]:
    """The database's revision, this code's head, and whether it would upgrade (`studio db current`)."""
    with engine.connect() as conn:
        rev = current(conn)
        tables = set(inspect(conn).get_table_names())
    state = ("empty" if not tables else "before_alembic" if rev is None and "decisions" in tables
             else "unknown" if rev is not None and rev not in known() else "current" if rev == head() else "behind")
    return {"revision": rev, "head": head(), "state": state}


def migrate(conn: Connection) -> dict[str, Any]:
    """Bring the schema to head inside the caller's transaction; returns {"from", "to", "stamped"}."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
    rev = current(conn)
    stamped = False
    if rev is None and "decisions" in set(inspect(conn).get_table_names()):
        command.stamp(alembic_config(conn), BASELINE)  # made by create_all before Alembic: that is revision 0001
        rev, stamped = BASELINE, True
    if rev is not None and rev not in known():
        raise SchemaUnknown(
            f"the database is at schema revision {rev!r}, which this version of the service does not know "
            f"(its newest is {head()!r}): it was upgraded by a newer version. Run that version, or run "
            f"`studio db downgrade {head()}` with it first.",
            details={"database_revision": rev, "code_head": head()})
    if rev != head():
        command.upgrade(alembic_config(conn), "head")
        log.info("database schema upgraded from %s to %s%s", rev or "empty", head(),
                 " (recognised as made before Alembic)" if stamped else "")
    return {"from": rev, "to": head(), "stamped": stamped}
