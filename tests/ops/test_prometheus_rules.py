"""The Prometheus configuration and rules of deploy/prometheus, checked with the real tools: `promtool check
config`, `promtool check rules` and `promtool test rules` (the unit tests of every alert in
deploy/prometheus/tests); every metric a rule reads is one a running server exports; every alert has a
severity, a summary and a runbook section in docs/operations.md."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml

from studio import PROJECT_ROOT
from tests.helpers import Server, server_env

PROM = PROJECT_ROOT / "deploy" / "prometheus"
RULES = sorted((PROM / "rules").glob("*.yml"))
SEVERITIES = {"page", "ticket"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian's `prometheus` package; .ci/run installs it)")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=PROM, capture_output=True, text=True, timeout=120)


def rules() -> list[dict[str, Any]]:
    return [r for f in RULES for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"]]


def test_config_and_rules_are_valid() -> None:
    config = run("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr
    checked = run("check", "rules", *[str(f.relative_to(PROM)) for f in RULES])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_every_alert_fires_as_its_unit_tests_say() -> None:
    tests = sorted(str(f.relative_to(PROM)) for f in (PROM / "tests").glob("*.yml"))
    out = run("test", "rules", *tests)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout
    tested = {t["alertname"] for f in tests for case in yaml.safe_load((PROM / f).read_text())["tests"]
              for t in case.get("alert_rule_test", [])}
    fired = {t["alertname"] for f in tests for case in yaml.safe_load((PROM / f).read_text())["tests"]
             for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    alerts = {r["alert"] for r in rules() if "alert" in r}
    assert alerts == tested == fired, "every alert has a unit test in which it fires"


def test_every_alert_has_severity_summary_and_a_runbook_section() -> None:
    runbook = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", runbook, flags=re.M)}
    for r in rules():
        if "alert" not in r:
            continue
        assert r["labels"]["severity"] in SEVERITIES, r["alert"]
        assert r["annotations"]["summary"], r["alert"]
        page, _, anchor = r["annotations"]["runbook"].partition("#")
        assert page == "docs/operations.md" and anchor in anchors, f"{r['alert']}: no section #{anchor}"


def metric_names(expr: str) -> set[str]:
    names = set(re.findall(r"\b(studio_[a-z0-9_]+)\b", re.sub(r'"[^"]*"', "", expr)))
    return {re.sub(r"_(bucket|count|sum)$", "", n) if n.endswith(("_bucket", "_count", "_sum")) and
            "seconds" in n else n for n in names}


def test_rules_read_only_metrics_the_service_exports(settings: Any, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    wanted = set().union(*(metric_names(r["expr"]) for r in rules()))
    env = {**server_env(settings), "STUDIO_OPS_GAUGES_INTERVAL_S": "0.2", "STUDIO_DRIFT_INTERVAL_S": "0.5",
           "STUDIO_DRIFT_WINDOW": "60"}
    rows = pd.read_csv(shared_data / "credit" / "uci_credit_default.csv").head(60)
    with Server(env) as srv, srv.client() as c:
        names = [f["name"] for f in yaml.safe_load((PROJECT_ROOT / "profiles" / "credit.yaml").read_text())["fields"]]
        events = [{"profile": "credit", "features": {n: float(r[n]) for n in names if pd.notna(r[n])}}
                  for _, r in rows.iterrows()]
        r = c.post("/v1/decisions:batch", json={"events": events})
        assert r.status_code == 200, r.text
        deadline, text = time.time() + 60, ""
        while time.time() < deadline:
            text = httpx.get(f"{srv.url}/metrics", timeout=10).text
            if all(m in text for m in ("studio_audit_verified_at_seconds", "studio_queue_jobs{",
                                       "studio_feature_drift_psi{", "studio_score_drift_psi{")):
                break
            time.sleep(0.3)
        drift = c.get("/v1/drift/credit").json()
        assert drift["status"] == "ok" and drift["window"]["decisions"] == 60 and drift["features"]
    exported = {re.sub(r"_(bucket|count|sum)$", "", m) if "seconds" in m else m
                for m in re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", text, flags=re.M)}
    assert wanted <= exported, f"rules read metrics the service does not export: {sorted(wanted - exported)}"
    assert not any(m.endswith("_created") for m in exported)  # no _created series
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "python_info"} <= exported


def test_the_compose_prometheus_mounts_this_folder() -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["prometheus"]["volumes"]
    assert any(m.split(":")[0] == "./deploy/prometheus" and m.split(":")[1] == "/etc/prometheus" for m in mounts)
    assert Path(PROM / "prometheus.yml").is_file()
