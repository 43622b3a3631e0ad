"""Shared fixtures: one trained model set per session, fresh databases per test, real servers on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio import PROJECT_ROOT
from tests.helpers import copy_registry, pg_schema_url, sqlite_url

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("STUDIO_LOG_LEVEL", "WARNING")
    # Stream fits on a thread: a fit child costs ~8 s to spawn and load, per studio. The child process (the
    # default) has its own tests in tests/graph/test_fit_process.py.
    os.environ.setdefault("STUDIO_STREAM_FIT_PROCESS", "false")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def trained_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train the three default profiles once (as `make run` would) into a session directory."""
    from core.settings import Settings
    from studio.bootstrap import open_base, train_missing

    var = tmp_path_factory.mktemp("trained-var")
    reuse = os.environ.get("STUDIO_TEST_TRAINED_VAR")  # a local speed-up: copy an already trained var dir
    if reuse:
        shutil.copytree(reuse, var, dirs_exist_ok=True)
        return var
    studio = open_base(Settings(var_dir=var, train_on_start=False))
    train_missing(studio, progress=False)
    studio.engine.dispose()
    return var


@pytest.fixture
def var_dir(trained_var: Path, tmp_path: Path) -> Path:
    """A private copy of the trained database; model artifacts are shared read-only."""
    var = tmp_path / "var"
    var.mkdir()
    shutil.copy(trained_var / "studio.db", var / "studio.db")
    return var


@pytest.fixture
def settings(var_dir: Path, trained_var: Path):  # type: ignore[no-untyped-def]
    from core.settings import Settings

    return Settings(var_dir=var_dir, models_dir=trained_var / "models", train_on_start=False, env="test")


@pytest.fixture
def pg_url(trained_var: Path) -> Iterator[str]:
    """A fresh PostgreSQL schema holding the trained registry; skipped (with the reason) without PostgreSQL."""
    base = os.environ.get("STUDIO_TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL tests need STUDIO_TEST_DATABASE_URL (set by .ci/run)")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    url = pg_schema_url(base, schema)
    copy_registry(sqlite_url(trained_var / "studio.db"), url)
    try:
        yield url
    finally:
        from sqlalchemy import create_engine, text

        eng = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
        with eng.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        eng.dispose()
