"""A module-scoped real server on SQLite for the API tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Server


@pytest.fixture(scope="module")
def server(trained_var: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    var = tmp_path_factory.mktemp("api-var")
    shutil.copy(trained_var / "studio.db", var / "studio.db")
    env = {"STUDIO_VAR_DIR": str(var), "STUDIO_MODELS_DIR": str(trained_var / "models"),
           "STUDIO_LOG_LEVEL": "WARNING", "STUDIO_ENV": "test", "STUDIO_MAX_BODY_BYTES": "200000"}
    with Server(env) as srv:
        yield srv
