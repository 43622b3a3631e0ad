"""Debian's Prometheus, started as a user would (a config file, a data folder, a port on 127.0.0.1), scrapes a
real `studio serve` and evaluates deploy/prometheus/rules; the test then breaks the audit trail the way an
attacker with database access would, and sees StudioAuditVerifyFailing fire in Prometheus.

The rules are ours as written, except that their `for:` durations are cut to 0s and the evaluation interval to
1s, so the test does not wait minutes; the expressions are unchanged."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from store.engine import make_engine
from studio import PROJECT_ROOT
from tests.audit_helpers import execute, unguard
from tests.helpers import Server, free_port, server_env, stop_process

RULES = PROJECT_ROOT / "deploy" / "prometheus" / "rules" / "studio.yml"


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        pytest.skip("prometheus is not installed (Debian's `prometheus` package; .ci/run installs it)")
    return path


def fast_rules(target: Path) -> None:
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "0s"
    target.write_text(yaml.safe_dump(doc))


def firing(prom: str) -> dict[str, dict[str, Any]]:
    alerts = httpx.get(f"{prom}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return {a["labels"]["alertname"]: a for a in alerts if a["state"] == "firing"}


def test_prometheus_scrapes_the_service_and_an_audit_break_fires_its_alert(settings: Any, tmp_path: Path) -> None:
    binary = prometheus_binary()
    env = {**server_env(settings), "STUDIO_OPS_GAUGES_INTERVAL_S": "0.5", "STUDIO_AUDIT_VERIFY_INTERVAL_S": "1"}
    with Server(env) as srv, srv.client() as c:
        for v in (1.0, 0.999, 1.001):
            assert c.post("/v1/decisions", json={"profile": "peg", "stream": "USDC", "value": v}).status_code == 200
        rules = tmp_path / "studio.yml"
        fast_rules(rules)
        port = free_port()
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [{"job_name": "gateway-ml-studio", "metrics_path": "/metrics",
                                "static_configs": [{"targets": [srv.url.removeprefix("http://")]}]}]}))
        proc = subprocess.Popen(
            [binary, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=(tmp_path / "prom.log").open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True)
        prom = f"http://127.0.0.1:{port}"
        try:
            up = None
            for _ in range(120):  # Prometheus is up and has scraped the service
                try:
                    result = httpx.get(f"{prom}/api/v1/query", params={"query": 'up{job="gateway-ml-studio"}'},
                                       timeout=5).json()["data"]["result"]
                    up = result[0]["value"][1] if result else None
                    if up == "1":
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            assert up == "1", (tmp_path / "prom.log").read_text()[-3000:]
            ok = httpx.get(f"{prom}/api/v1/query", params={"query": "studio_audit_chain_ok"}, timeout=5).json()
            assert ok["data"]["result"] and ok["data"]["result"][0]["value"][1] == "1"
            assert "StudioAuditVerifyFailing" not in firing(prom)
            groups = httpx.get(f"{prom}/api/v1/rules", timeout=5).json()["data"]["groups"]
            assert all(r["health"] == "ok" for g in groups for r in g["rules"]), groups

            engine = make_engine(settings.database_url)  # what someone with database access could do
            unguard(engine)
            execute(engine, "UPDATE decisions SET action = 'critical', severity = 10 WHERE id IN (SELECT id FROM decisions LIMIT 1)")
            engine.dispose()
            alert = None
            for _ in range(120):
                alert = firing(prom).get("StudioAuditVerifyFailing")
                if alert is not None:
                    break
                time.sleep(0.5)
            assert alert is not None, httpx.get(f"{srv.url}/metrics").text[-2000:]
            assert alert["labels"]["severity"] == "page"
            assert re.search(r"docs/operations\.md#studioauditverifyfailing", alert["annotations"]["runbook"])
        finally:
            stop_process(proc)
