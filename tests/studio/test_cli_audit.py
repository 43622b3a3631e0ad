"""`studio audit`: anchor prints the head (and checkpoints it), verify --expect-head checks it, a truncated chain
exits 1 with the missing range, a malformed head exits 2; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.settings import Settings
from studio import PROJECT_ROOT
from tests.audit_helpers import append_events, audit_db, execute, unguard


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Settings, Engine]]:
    with audit_db(request.param, tmp_path) as pair:
        yield pair


def _studio(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STUDIO_VAR_DIR": str(settings.var_dir), "STUDIO_DATABASE_URL": settings.database_url,
           "STUDIO_LOG_LEVEL": "WARNING", "STUDIO_ENV": "test"}
    env.pop("STUDIO_AUDIT_KEY", None)
    return subprocess.run([sys.executable, "-m", "studio.cli", "audit", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_anchor_then_verify_expect_head(db) -> None:  # type: ignore[no-untyped-def]
    settings, engine = db
    append_events(engine, 7)
    r = _studio(settings, "anchor")
    assert r.returncode == 0, r.stderr
    anchor = r.stdout.strip()
    seq, hash_ = anchor.split(":")
    assert seq == "7" and len(hash_) == 64
    key = settings.var_dir / "audit.key"
    assert key.stat().st_mode & 0o777 == 0o600  # the key lives outside the database, private
    append_events(engine, 2, tag="later")
    r = _studio(settings, "verify", "--expect-head", anchor)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] and report["expect_head"]["ok"] and report["checkpoints"]["latest"]["seq"] == 7

    unguard(engine)
    execute(engine, "DELETE FROM audit_events WHERE seq > 4")
    r = _studio(settings, "verify", "--expect-head", anchor)
    assert r.returncode == 1
    report = json.loads(r.stdout)
    assert not report["ok"] and report["truncated"]["from_seq"] == 5 and report["truncated"]["to_seq"] == 7
    assert "missing" in report["expect_head"]["reason"]


def test_malformed_expect_head_is_refused(db) -> None:  # type: ignore[no-untyped-def]
    settings, _ = db
    r = _studio(settings, "verify", "--expect-head", "12:nothex")
    assert r.returncode == 2
    assert json.loads(r.stderr)["error"]["code"] == "validation_error"
