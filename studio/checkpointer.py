"""LangGraph checkpointers for the review and chat threads: a SQLite file next to the database by default, the
service's PostgreSQL database when it runs on one (set up under an advisory lock, so replicas starting together
run its migrations one at a time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from core.settings import Settings
from store.engine import normalize_url

_PG_SETUP_LOCK = 7_724_003


def pg_conninfo(url: str) -> str:
    """A libpq URL (psycopg) from the SQLAlchemy one."""
    return normalize_url(url).replace("postgresql+psycopg://", "postgresql://", 1)


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[Any]:
    """SQLite file next to the database by default; the service's PostgreSQL database when it runs on one."""
    if settings.is_sqlite:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        path = settings.review_checkpoint_path
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(pg_conninfo(settings.database_url), min_size=1, max_size=4, open=False,
                               kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
    await pool.open()
    try:
        pg_saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        # Replicas starting together: one runs the checkpointer's migrations at a time. The lock is held on an
        # autocommit connection (an open transaction would block the migrations' CREATE INDEX CONCURRENTLY).
        async with pool.connection() as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (_PG_SETUP_LOCK,))
            try:
                await pg_saver.setup()
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (_PG_SETUP_LOCK,))
        yield pg_saver
    finally:
        await pool.close()
