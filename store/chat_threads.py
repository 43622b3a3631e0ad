"""Chat thread ownership: the key that starts a thread owns it."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from store.engine import write_tx
from store.ids import now_iso
from store.tables import ChatThreadRow

THREADS = ChatThreadRow.__table__  # type: ignore[attr-defined]


def owner_of(engine: Engine, thread_id: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(THREADS.c.owner).where(THREADS.c.id == thread_id)).scalar_one_or_none()


def claim(engine: Engine, thread_id: str, owner: str) -> str:
    """The thread's owner: `owner` if the thread is new (it is recorded), else whoever started it."""
    current = owner_of(engine, thread_id)
    if current is not None:
        return current
    try:
        with write_tx(engine) as conn:
            conn.execute(THREADS.insert().values(id=thread_id, owner=owner, created_at=now_iso()))
    except IntegrityError:  # two first turns raced: the one that committed owns it
        return owner_of(engine, thread_id) or owner
    return owner
