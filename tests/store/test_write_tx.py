"""write_tx(wait=False): a write that starts only when nothing has to be waited for, so the event loop can write
small batches itself. It must never wait (for this process's writers or another process's), must write nothing
when it cannot start, and must leave the connection as it found it."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from store.decisions import DECISIONS, DecisionWriter, get_decision
from store.engine import WriteBusy, _sqlite_write_lock, init_db, make_engine, write_tx
from tests.store.test_decision_rows import decision


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    init_db(eng)
    return eng


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {DECISIONS.name}")).scalar_one())


def test_writes_when_nothing_holds_the_database(engine: Engine) -> None:
    d = decision(1)
    assert DecisionWriter(engine).write_batch("peg", [d], [], "test", wait=False) is True
    back = get_decision(engine, d["id"])
    assert back is not None and back["content_sha256"] == d["content_sha256"]


def test_another_writer_of_this_process_makes_it_return_at_once(engine: Engine) -> None:
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with write_tx(engine):
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert held.wait(10)
        d = decision(1)
        start = time.perf_counter()
        assert DecisionWriter(engine).write_batch("peg", [d], [], "test", wait=False) is False
        assert time.perf_counter() - start < 0.5
        assert "content_sha256" not in d
    finally:
        release.set()
        t.join()
    assert count(engine) == 0
    assert DecisionWriter(engine).write_batch("peg", [d], [], "test", wait=False) is True  # free again
    assert count(engine) == 1


def test_another_process_holding_the_lock_makes_it_return_at_once(engine: Engine, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "w.db", isolation_level=None, check_same_thread=False)  # as another process would hold it
    other.execute("BEGIN IMMEDIATE")
    try:
        start = time.perf_counter()
        with pytest.raises(WriteBusy), write_tx(engine, wait=False):
            pytest.fail("the transaction must not start")
        assert time.perf_counter() - start < 0.5
        assert not _sqlite_write_lock(engine)._is_owned()  # type: ignore[attr-defined]  # released
    finally:
        other.execute("COMMIT")
    # The pooled connection waits again for other processes (busy timeout restored): a writer that holds the
    # lock for a moment delays this write instead of failing it.
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, lambda: other.execute("COMMIT")).start()
    start = time.perf_counter()
    assert DecisionWriter(engine).write_batch("peg", [decision(2)], [], "test") is True
    assert time.perf_counter() - start >= 0.2
    assert count(engine) == 1
    other.close()


def test_postgresql_never_writes_without_waiting(pg_url: str) -> None:
    eng = make_engine(pg_url)
    try:
        with pytest.raises(WriteBusy), write_tx(eng, wait=False):
            pytest.fail("the transaction must not start")
        assert DecisionWriter(eng).write_batch("peg", [decision(1)], [], "test", wait=False) is False
    finally:
        eng.dispose()
