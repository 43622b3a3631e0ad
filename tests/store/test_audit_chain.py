"""The audit chain: appended in the writer's transaction, verified end to end, tampering found, on SQLite and
PostgreSQL, and one unbroken chain under concurrent writers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from store import audit, audit_verify
from store.audit import AuditRecord
from store.engine import init_db, make_engine, write_tx


def _append_some(engine, n: int, actor: str = "test") -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        with write_tx(engine) as conn:
            audit.append(conn, [AuditRecord(actor, "test.event", "thing", f"t{i}", {"i": i, "x": [1.5, "a"]})])


def _tamper(engine, seq: int) -> None:  # type: ignore[no-untyped-def]
    """What an attacker with database access would do: drop the guard, rewrite a payload."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_no_update"))
        else:
            conn.execute(text("DROP TRIGGER audit_append_only ON audit_events"))
        conn.execute(text("UPDATE audit_events SET payload = :p WHERE seq = :s"), {"p": '{"i":999}', "s": seq})


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'a.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    eng = make_engine(url)
    init_db(eng)
    yield eng
    eng.dispose()


def test_chain_verifies_and_links(engine) -> None:  # type: ignore[no-untyped-def]
    before = audit_verify.verify(engine)["checked"]
    _append_some(engine, 12)
    report = audit_verify.verify(engine)
    assert report["ok"] and report["checked"] == before + 12 and report["first_broken"] is None


def test_append_only_guard(engine) -> None:  # type: ignore[no-untyped-def]
    _append_some(engine, 2)
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory'"))


def test_tampered_row_is_the_first_broken_link(engine) -> None:  # type: ignore[no-untyped-def]
    _append_some(engine, 10)
    head = audit_verify.verify(engine)["head"]["seq"]
    _tamper(engine, head - 4)
    report = audit_verify.verify(engine)
    assert not report["ok"]
    assert report["first_broken"]["seq"] == head - 4
    assert "altered" in report["first_broken"]["reason"]


def test_deleted_row_is_found(engine) -> None:  # type: ignore[no-untyped-def]
    _append_some(engine, 6)
    head = audit_verify.verify(engine)["head"]["seq"]
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_append_only ON audit_events"))
        conn.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": head - 2})
    report = audit_verify.verify(engine)
    assert not report["ok"] and report["first_broken"]["seq"] == head - 2
    assert "missing" in report["first_broken"]["reason"]


def test_concurrent_writers_keep_one_chain(engine) -> None:  # type: ignore[no-untyped-def]
    """Eight threads, each with its own connections, appending at once: no fork, no gap, no duplicate."""
    before = audit_verify.verify(engine)["checked"]
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            _append_some(engine, 25, actor=f"w{k}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = audit_verify.verify(engine)
    assert report["ok"] and report["checked"] == before + 200
