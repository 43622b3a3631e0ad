"""`studio train` killed (kill -9) at each step of publishing a profile: the next training quarantines and
reports what was left, never reuses a version number, activates all of a profile's new versions or none,
and `studio serve` starts on the result. One small profile (two models on 1,500 rows) keeps it short."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml
from sqlalchemy import select

from store.engine import make_engine
from store.tables import AuditEventRow, ModelActivationRow, ModelVersionRow
from studio import PROJECT_ROOT
from tests.helpers import Server

VERSIONS = ModelVersionRow.__table__  # type: ignore[attr-defined]
ACTIVATIONS = ModelActivationRow.__table__  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("train-crash")
    profiles = root / "profiles"
    profiles.mkdir()
    p = yaml.safe_load((PROJECT_ROOT / "profiles" / "credit.yaml").read_text())
    p["models"] = {"classifiers": ["logreg"], "detectors": ["isolation_forest"],
                   "params": {"isolation_forest": {"n_estimators": 20}}}
    p["router"]["arms"] = {k: v for k, v in p["router"]["arms"].items() if "meta" not in v}
    (profiles / "credit.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    csv = root / "small.csv"
    pd.read_csv(PROJECT_ROOT / "data" / "credit" / "uci_credit_default_sample.csv").head(1500).to_csv(csv, index=False)
    var = root / "var"
    env = {"STUDIO_VAR_DIR": str(var), "STUDIO_PROFILES_DIR": str(profiles), "STUDIO_LOG_LEVEL": "WARNING",
           "STUDIO_ENV": "test", "STUDIO_MAINTENANCE_INTERVAL_S": "0"}
    return {"env": env, "csv": csv, "var": var, "models": var / "models"}


def train(small: dict[str, Any], pause_at: str | None = None, timeout: float = 280.0) -> dict[str, Any] | None:
    """Run `studio train`; with pause_at, kill -9 it (its whole process group) once it reaches that point."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update(small["env"])
    if pause_at:
        env["STUDIO_TEST_PAUSE_AT"] = pause_at
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "train", "--profile", "credit", "--input",
                             str(small["csv"])], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    err: list[str] = []
    paused = threading.Event()

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err.append(line)
            if pause_at and f"pause-point {pause_at.split(':')[0]}" in line:
                paused.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        if pause_at:
            deadline = time.time() + timeout
            while not paused.wait(0.2):
                assert proc.poll() is None, f"exited ({proc.returncode}) before {pause_at}:\n{''.join(err)[-3000:]}"
                assert time.time() < deadline, f"train never reached {pause_at}"
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            assert proc.returncode == -signal.SIGKILL
            return None
        out, _ = proc.communicate(timeout=timeout)
        reader.join(timeout=5)
        assert proc.returncode == 0, "".join(err)[-3000:]
        return json.loads(out)  # type: ignore[no-any-return]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def registry_rows(small: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[dict[str, Any]]]:
    eng = make_engine(f"sqlite:///{small['var'] / 'studio.db'}")
    audit = AuditEventRow.__table__  # type: ignore[attr-defined]
    try:
        with eng.connect() as conn:
            versions = [(r.model, r.version) for r in conn.execute(select(VERSIONS))]
            active = [(r.model, r.version) for r in conn.execute(select(ACTIVATIONS))]
            moved = [json.loads(r.payload)
                     for r in conn.execute(select(audit).where(audit.c.action == "model.quarantined"))]
    finally:
        eng.dispose()
    return sorted(versions), sorted(active), moved


def on_disk(small: dict[str, Any], model: str) -> list[str]:
    return sorted(p.name for p in (small["models"] / "credit" / model).iterdir())


def test_training_killed_at_every_publishing_step_then_train_and_serve_succeed(small: dict[str, Any]) -> None:
    # 1. killed with the isolation forest's files written but not yet renamed into place
    train(small, "publish.written:2")
    versions, active, _ = registry_rows(small)
    assert versions == [("logreg", "v1")] and active == []
    assert [n for n in on_disk(small, "isolation_forest") if n.startswith(".v1.tmp-")]

    # 2. killed after publishing every model, before activating any: the unfinished write is quarantined first
    train(small, "train.published")
    versions, active, moved = registry_rows(small)
    assert ("isolation_forest", "v2") in versions and ("logreg", "v2") in versions  # v1 of the forest: never reused
    assert active == []  # all of a profile's versions or none
    assert [(m["model"], m["reason"]) for m in moved] == [("isolation_forest", "unfinished write")]
    assert on_disk(small, "isolation_forest") == ["v2"]

    # 3. killed between renaming logreg's directory into place and recording it (the original Errno 39 window)
    train(small, "publish.renamed:1")
    assert on_disk(small, "logreg") == ["v1", "v2", "v3"]
    assert ("logreg", "v3") not in registry_rows(small)[0]

    # 4. the next training quarantines v3, reports it, and publishes v4 (v3 is never reused)
    report = train(small)
    assert report is not None
    assert [(q["model"], q["entry"], q["reason"]) for q in report["quarantined"]] == [
        ("logreg", "v3", "not recorded in the registry")]
    assert report["versions"]["logreg"] == "v4" and report["versions"]["isolation_forest"] == "v3"
    assert on_disk(small, "logreg") == ["v1", "v2", "v4"]
    quarantine = small["models"] / ".quarantine" / "credit"
    assert sorted(p.name.split("-")[0] for p in (quarantine / "logreg").iterdir()) == ["v3"]
    assert sorted(p.name.split("-")[0] for p in (quarantine / "isolation_forest").iterdir()) == ["v1.tmp"]
    _, active, moved = registry_rows(small)
    assert len(moved) == 2 and set(report["versions"].items()) <= set(active)

    # 5. `studio serve` starts and serves the new versions
    with Server(dict(small["env"])) as srv:
        r = httpx.get(f"{srv.url}/v1/health", timeout=10)
        assert r.status_code == 200, r.text
        served = r.json()["profiles"]["credit"]
        assert {**served["versions"], "router": served["router_version"]} == report["versions"]
        audit = httpx.get(f"{srv.url}/v1/audit/verify", headers=srv.headers, timeout=60).json()
        assert audit["ok"], audit
