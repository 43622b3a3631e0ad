"""What decision replay needs beyond the decision rows: pre-batch model states and every stream fit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from store.bulk import insert_rows
from store.ids import now_iso
from store.tables import BatchStreamStateRow, StreamFitRow

BATCH_STATES = BatchStreamStateRow.__table__  # type: ignore[attr-defined]
FITS = StreamFitRow.__table__  # type: ignore[attr-defined]


def save_batch_states(conn: Connection, rows: list[dict[str, Any]]) -> None:
    now = now_iso()
    insert_rows(conn, BATCH_STATES, [{**r, "created_at": now} for r in rows])


def save_fit(conn: Connection, profile: str, stream: str, version: int, fit: dict[str, Any]) -> None:
    exists = conn.execute(select(FITS.c.version).where(FITS.c.profile == profile, FITS.c.stream == stream,
                                                       FITS.c.version == version)).first()
    if exists is None:
        conn.execute(insert(FITS), [{"profile": profile, "stream": stream, "version": version, "fit": fit,
                                     "created_at": now_iso()}])


def batch_states(engine: Engine, batch_id: str) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {r["stream"]: dict(r) for r in conn.execute(
            select(BATCH_STATES).where(BATCH_STATES.c.batch_id == batch_id)).mappings()}


def fit_version(engine: Engine, profile: str, stream: str, version: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(FITS.c.fit).where(FITS.c.profile == profile, FITS.c.stream == stream,
                                                    FITS.c.version == version)).first()
    return row[0] if row else None
