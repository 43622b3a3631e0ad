"""Fixtures for the overseer tests: a scripted LLM on 127.0.0.1 and profiles whose peg asks the overseer always."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select

from store.engine import make_engine
from store.explanations import JOBS
from store.tables import AuditEventRow
from studio import PROJECT_ROOT
from tests.llm_server import ScriptedLLM

API_KEY = "sk-overseer-test-key-9f2c"
AUDIT = AuditEventRow.__table__  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(api_key=API_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def overseer_profiles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped profiles, except that peg asks the overseer on every decision (disagreement > -1)."""
    out = tmp_path_factory.mktemp("profiles")
    for path in (PROJECT_ROOT / "profiles").glob("*.yaml"):
        shutil.copy(path, out / path.name)
    peg = yaml.safe_load((out / "peg.yaml").read_text())
    peg["thresholds"]["overseer_disagreement"] = -1.0
    (out / "peg.yaml").write_text(yaml.safe_dump(peg, sort_keys=False))
    return out


def overseer_env(var: Path, trained_var: Path, llm: ScriptedLLM, profiles: Path, database_url: str | None = None,
                 **extra: str) -> dict[str, str]:
    env = {"STUDIO_VAR_DIR": str(var), "STUDIO_MODELS_DIR": str(trained_var / "models"),
           "STUDIO_LOG_LEVEL": "INFO", "STUDIO_ENV": "test", "STUDIO_PROFILES_DIR": str(profiles),
           "STUDIO_LLM_BASE_URL": llm.base_url, "STUDIO_LLM_MODEL": "scripted-1", "STUDIO_LLM_API_KEY": API_KEY,
           "STUDIO_LLM_TIMEOUT_S": "2", "STUDIO_LLM_MAX_RETRIES": "0", "STUDIO_LLM_COST_PER_1K_INPUT": "0.5",
           "STUDIO_LLM_COST_PER_1K_OUTPUT": "1.5", "STUDIO_EXPLANATION_MAX_ATTEMPTS": "2",
           "STUDIO_EXPLANATION_BACKOFF_S": "0.2", "STUDIO_EXPLANATION_POLL_S": "0.1",
           "STUDIO_WEBHOOK_BACKOFF_S": "0.2", "STUDIO_MAINTENANCE_INTERVAL_S": "0", **extra}
    if database_url:
        env["STUDIO_DATABASE_URL"] = database_url
    return env


def audit_of(engine: Engine, decision_id: str) -> list[dict[str, Any]]:
    import json

    with engine.connect() as conn:
        rows = conn.execute(select(AUDIT).where(AUDIT.c.subject_id == decision_id).order_by(AUDIT.c.seq)).mappings()
        return [{"action": r["action"], "actor": r["actor"], **json.loads(r["payload"])} for r in rows]


def job_of(engine: Engine, decision_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(JOBS).where(JOBS.c.decision_id == decision_id)).mappings().first()
    return dict(row) if row else None


def db(url: str) -> Engine:
    return make_engine(url)

