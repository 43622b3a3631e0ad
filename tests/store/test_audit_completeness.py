"""The audit trail proves completeness, not only order: signed checkpoints find deleted newest events (even with
the checkpoint rows deleted too), decision rows are checked against their events, tampered checkpoints are
reported, an anchored head is checked, and checkpoints are written periodically and on shutdown. SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select, text

import store.audit_verify as audit_verify
from core.errors import ValidationFailed
from core.settings import Settings
from store.audit_checkpoints import CHECKPOINTS
from store.decisions import DECISIONS, DecisionWriter, content_hash
from studio import audit_integrity
from tests.audit_helpers import append_events, audit_db, execute, unguard
from tests.store.test_decision_rows import decision


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Settings, Engine]]:
    with audit_db(request.param, tmp_path) as pair:
        yield pair


def _verify(settings: Settings, engine: Engine, **kw: Any) -> dict[str, Any]:
    return audit_integrity.verify(settings, engine, **kw)


def _checkpoints(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(CHECKPOINTS).order_by(CHECKPOINTS.c.id)).mappings()]


def _event_hash(engine: Engine, seq: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": seq}).scalar_one())


def test_deleting_the_newest_events_is_reported_with_the_missing_range(db) -> None:  # type: ignore[no-untyped-def]
    settings, engine = db
    append_events(engine, 10)
    assert audit_integrity.checkpoint(settings, engine, "periodic")["seq"] == 10  # type: ignore[index]
    append_events(engine, 2, tag="late")  # after the last checkpoint
    assert _verify(settings, engine)["ok"]
    unguard(engine)
    execute(engine, "DELETE FROM audit_events WHERE seq > 6")
    report = _verify(settings, engine)
    assert report["first_broken"] is None  # what is left still links: only the checkpoint shows the loss
    assert not report["ok"]
    assert report["truncated"]["from_seq"] == 7 and report["truncated"]["to_seq"] == 10
    assert report["head"]["seq"] == 6


def test_deleting_the_checkpoint_rows_too_is_found_from_the_file(db) -> None:  # type: ignore[no-untyped-def]
    settings, engine = db
    append_events(engine, 8)
    audit_integrity.checkpoint(settings, engine, "periodic")
    unguard(engine)
    execute(engine, "DELETE FROM audit_events WHERE seq > 3")
    execute(engine, "DELETE FROM audit_checkpoints")
    report = _verify(settings, engine)
    assert not report["ok"]
    assert report["truncated"]["from_seq"] == 4 and report["truncated"]["to_seq"] == 8
    assert report["checkpoints"]["bad"][0]["in"] == "file"
    assert "rows were deleted" in report["checkpoints"]["bad"][0]["reason"]


def test_a_changed_decision_action_names_that_decision(db) -> None:  # type: ignore[no-untyped-def]
    settings, engine = db
    decisions = [decision(i) for i in range(4)]
    DecisionWriter(engine).write_batch("peg", decisions, [], "test")
    assert _verify(settings, engine)["ok"]
    target = decisions[0]
    assert target["action"] == "none"
    unguard(engine)
    execute(engine, "UPDATE decisions SET action = 'critical' WHERE id = :id", id=target["id"])
    report = _verify(settings, engine)
    assert not report["ok"] and report["first_broken"] is None  # the chain itself is intact
    first = report["decisions"]["first_mismatch"]
    assert first["decision_id"] == target["id"] and "action" in first["changed"]
    assert report["decisions"]["mismatched"] == 1 and report["decisions"]["checked"] == 4
    # the attacker rewrites the row's stored hash as well: its audit event still holds the original one
    with engine.connect() as conn:
        row = dict(conn.execute(select(DECISIONS).where(DECISIONS.c.id == target["id"])).mappings().one())
    execute(engine, "UPDATE decisions SET content_sha256 = :h WHERE id = :id", h=content_hash(row), id=target["id"])
    report = _verify(settings, engine)
    assert not report["ok"] and report["decisions"]["first_mismatch"]["decision_id"] == target["id"]
    assert "altered" in report["decisions"]["first_mismatch"]["reason"]


def test_reformatted_but_equal_json_is_not_a_change(db) -> None:  # type: ignore[no-untyped-def]
    """The fast path hashes the stored JSON text; text with other spacing or key order falls back to the
    content, so only a changed value is reported."""
    settings, engine = db
    decisions = [decision(i) for i in range(2)]
    DecisionWriter(engine).write_batch("peg", decisions, [], "test")
    spaced = json.dumps({"stream": "USDC", "value": 0.99987, "context": {"venue": "kraken", "note": "é ü ✓"}},
                        indent=2)  # keys out of order too
    value = "CAST(:v AS TEXT)" if engine.dialect.name == "sqlite" else "CAST(:v AS JSON)"
    execute(engine, f"UPDATE decisions SET inputs = {value} WHERE id = :id", v=spaced, id=decisions[1]["id"])
    assert _verify(settings, engine)["ok"]
    execute(engine, f"UPDATE decisions SET inputs = {value} WHERE id = :id", v=spaced.replace("kraken", "x"),
            id=decisions[1]["id"])
    report = _verify(settings, engine)
    assert not report["ok"] and report["decisions"]["first_mismatch"]["decision_id"] == decisions[1]["id"]


def test_deleted_and_inserted_decision_rows_are_named(db) -> None:  # type: ignore[no-untyped-def]
    settings, engine = db
    decisions = [decision(i) for i in range(3)]
    DecisionWriter(engine).write_batch("peg", decisions, [], "test")
    execute(engine, "DELETE FROM decisions WHERE id = :id", id=decisions[1]["id"])
    first = _verify(settings, engine)["decisions"]["first_mismatch"]
    assert first["decision_id"] == decisions[1]["id"] and "missing" in first["reason"]
    DecisionWriter(engine).write_batch("peg", [decisions[1]], [], "test")  # back, with a second event
    with engine.connect() as conn:
        row = dict(conn.execute(select(DECISIONS).where(DECISIONS.c.id == decisions[2]["id"])).mappings().one())
    forged = {**row, "id": "dec_FORGED", "action": "none"}
    forged["content_sha256"] = content_hash(forged)
    with engine.begin() as conn:
        conn.execute(DECISIONS.insert().values(**forged))
    report = _verify(settings, engine)
    assert report["decisions"]["unaudited"] == "dec_FORGED" and not report["ok"]


def test_the_decision_check_pages_through_the_table(db, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Small pages (events 5, decision rows 3): the first altered decision in chain order is still the one named."""
    settings, engine = db
    monkeypatch.setattr(audit_verify, "DECISION_PAGE", 3)
    decisions = [decision(i) for i in range(23)]
    for i in range(0, 23, 4):
        DecisionWriter(engine).write_batch("peg", decisions[i:i + 4], [], "test")
    unguard(engine)
    for d in (decisions[17], decisions[21]):
        execute(engine, "UPDATE decisions SET severity = 9 WHERE id = :id", id=d["id"])
    report = audit_verify.verify(engine, chunk=5)
    assert report["decisions"]["checked"] == 23 and report["decisions"]["mismatched"] == 2
    assert report["decisions"]["first_mismatch"]["decision_id"] == decisions[17]["id"]
    assert report["decisions"]["first_mismatch"]["changed"] == ["severity"]


def test_a_tampered_checkpoint_is_reported(db) -> None:  # type: ignore[no-untyped-def]
    settings, engine = db
    append_events(engine, 5)
    audit_integrity.checkpoint(settings, engine, "periodic")
    append_events(engine, 3, tag="b")
    audit_integrity.checkpoint(settings, engine, "periodic")
    first = _checkpoints(engine)[0]
    unguard(engine)  # move the older checkpoint to a later event without the key: its HMAC no longer matches
    execute(engine, "UPDATE audit_checkpoints SET seq = 7, hash = :h WHERE id = :id", h=_event_hash(engine, 7),
            id=first["id"])
    report = _verify(settings, engine)
    assert not report["ok"] and report["checkpoints"]["bad_count"] == 1
    bad = report["checkpoints"]["bad"][0]
    assert bad["id"] == first["id"] and "HMAC" in bad["reason"] and bad["in"] == "table"


def test_a_checkpoint_signed_with_another_key_is_reported(db) -> None:  # type: ignore[no-untyped-def]
    settings, engine = db
    append_events(engine, 4)
    other = settings.model_copy(update={"audit_key": SecretStr("k" * 40), "var_dir": settings.var_dir / "other"})
    audit_integrity.checkpoint(other, engine, "periodic")
    assert _verify(other, engine)["ok"]
    report = _verify(settings, engine)
    assert not report["ok"] and "another key" in report["checkpoints"]["bad"][0]["reason"]


def test_a_forged_checkpoint_file_is_reported(db) -> None:  # type: ignore[no-untyped-def]
    settings, engine = db
    append_events(engine, 4)
    audit_integrity.checkpoint(settings, engine, "periodic")
    path = audit_integrity.head_file(settings, engine).path
    data = json.loads(path.read_text())
    (entry,) = data.values()
    entry["seq"] = 99  # claims events that were never signed
    path.write_text(json.dumps(data))
    report = _verify(settings, engine)
    assert not report["ok"] and report["truncated"] is None
    bad = report["checkpoints"]["bad"][0]
    assert bad["in"] == "file" and "HMAC" in bad["reason"]
    path.write_text("{not json")
    report = _verify(settings, engine)
    assert not report["ok"] and "unreadable" in report["checkpoints"]["bad"][0]["reason"]


def test_anchor_and_expect_head_round_trip(db) -> None:  # type: ignore[no-untyped-def]
    settings, engine = db
    assert audit_integrity.anchor(settings, engine) == "0:" + "0" * 64  # an empty chain
    append_events(engine, 6)
    anchor = audit_integrity.anchor(settings, engine)
    seq, hash_ = anchor.split(":")
    assert int(seq) == 6 and hash_ == _event_hash(engine, 6)
    assert _checkpoints(engine)[-1]["source"] == "anchor"
    append_events(engine, 4, tag="after")
    report = _verify(settings, engine, expect_head=anchor)
    assert report["ok"] and report["expect_head"]["ok"]
    # someone with the database and the var dir removes events 5.. and every local trace of them
    unguard(engine)
    execute(engine, "DELETE FROM audit_events WHERE seq >= 5")
    execute(engine, "DELETE FROM audit_checkpoints")
    audit_integrity.head_file(settings, engine).path.unlink()
    assert _verify(settings, engine)["ok"]  # nothing local is left to tell: the anchor recorded elsewhere does
    report = _verify(settings, engine, expect_head=anchor)
    assert not report["ok"] and not report["expect_head"]["ok"] and "missing" in report["expect_head"]["reason"]
    append_events(engine, 3, tag="forged")  # a new, valid chain from seq 5: event 6 has another hash
    report = _verify(settings, engine, expect_head=anchor)
    assert report["first_broken"] is None and not report["ok"]
    assert "rewritten" in report["expect_head"]["reason"]
    for bad in ("6", "x:" + hash_, "6:" + hash_[:-1], "-1:" + hash_, "6:" + "g" * 64):
        with pytest.raises(ValidationFailed):
            audit_integrity.parse_head(bad)


def test_checkpoints_are_append_only(db) -> None:  # type: ignore[no-untyped-def]
    settings, engine = db
    append_events(engine, 2)
    audit_integrity.checkpoint(settings, engine, "periodic")
    for sql in ("DELETE FROM audit_checkpoints", "UPDATE audit_checkpoints SET seq = 1",
                "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))


async def test_checkpoints_are_written_periodically(db) -> None:  # type: ignore[no-untyped-def]
    settings, engine = db
    append_events(engine, 2)
    task = asyncio.create_task(audit_integrity.run(settings, engine, 0.05))
    try:
        for target in (2, 5):
            if target == 5:
                # one transaction: a checkpoint between three separate appends would rightly sign seq 3 or 4
                await asyncio.to_thread(lambda: append_events(engine, 3, one_transaction=True))
            for _ in range(200):
                if any(c["seq"] == target for c in _checkpoints(engine)):
                    break
                await asyncio.sleep(0.05)
        seqs = [c["seq"] for c in _checkpoints(engine)]
    finally:
        task.cancel()
    assert seqs == [2, 5]  # one per new head, none while it stands still
    assert {c["source"] for c in _checkpoints(engine)} == {"periodic"}


async def test_stop_writes_a_checkpoint_and_the_key_file_is_private(db) -> None:  # type: ignore[no-untyped-def]
    from studio.bootstrap import open_base, stop

    settings, engine = db
    studio = open_base(settings)
    append_events(studio.engine, 4)
    await stop(studio)
    cps = _checkpoints(engine)
    assert [(c["seq"], c["source"]) for c in cps] == [(4, "shutdown")]
    key = audit_integrity.key_path(settings)
    assert key.exists() and key.stat().st_mode & 0o777 == 0o600
    assert _verify(settings, engine)["checkpoints"]["latest"]["seq"] == 4
