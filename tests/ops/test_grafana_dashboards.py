"""Dashboards as code (deploy/grafana): the provisioning files point Grafana at the dashboards and at a
Prometheus datasource whose uid every panel uses; every PromQL expression of every panel parses, checked by
`promtool check rules` on a generated rules file; every metric a panel reads is a recording rule of
deploy/prometheus/rules or a metric a running server declares on /metrics."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from studio import PROJECT_ROOT
from tests.helpers import Server, server_env
from tests.ops.test_prometheus_rules import promtool, rules

GRAFANA = PROJECT_ROOT / "deploy" / "grafana"
BOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
WANTED = {"overview", "models", "drift", "review", "llm"}
PROMQL_BUILTINS = {"le"}


def dashboards() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in BOARDS]


def expressions() -> list[tuple[str, str, str]]:
    """(dashboard, panel, PromQL with Grafana's variables replaced by what they expand to)."""
    out = []
    for d in dashboards():
        for p in d["panels"]:
            for t in p["targets"]:
                expr = t["expr"].replace("$__rate_interval", "5m").replace("$profile", ".*")
                out.append((d["uid"], p["title"], expr))
    return out


def test_provisioning_and_dashboards_fit_together() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    [source] = ds["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "studio.yml").read_text())["providers"]
    assert providers[0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert {p.stem for p in BOARDS} == WANTED
    uids = [d["uid"] for d in dashboards()]
    assert len(set(uids)) == len(uids)
    for d in dashboards():
        ids = [p["id"] for p in d["panels"]]
        assert len(set(ids)) == len(ids) and d["panels"], d["uid"]
        for p in d["panels"]:
            assert p["datasource"]["uid"] == source["uid"] and p["targets"] and p["title"], (d["uid"], p)
            assert all(t["datasource"]["uid"] == source["uid"] for t in p["targets"])


def test_every_panel_expression_is_valid_promql(tmp_path: Path) -> None:
    exprs = expressions()
    generated = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard_check:{i}", "expr": e} for i, (_, _, e) in enumerate(exprs)]}]}
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump(generated))
    import subprocess

    r = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(exprs)} rules found" in r.stdout


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', "", expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # matchers
    expr = re.sub(r"\b(by|without)\s*\([^)]*\)", "", expr)  # grouping labels
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expr))
    return {n for n in names if "_" in n or ":" in n} - PROMQL_BUILTINS


def declared(text: str) -> set[str]:
    out = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.M):
        out.add(name)
        if kind == "histogram":
            out.update({f"{name}_bucket", f"{name}_count", f"{name}_sum"})
    return out


def test_panels_read_only_metrics_the_service_exports_or_the_rules_record(settings: Any) -> None:  # type: ignore[no-untyped-def]
    recorded = {r["record"] for r in rules() if "record" in r}
    with Server(server_env(settings)) as srv:
        deadline, text = time.time() + 30, ""
        while time.time() < deadline and "studio_feature_drift_psi" not in text:
            text = httpx.get(f"{srv.url}/metrics", timeout=10).text
            time.sleep(0.2)
    exported = declared(text)
    missing = {(uid, title, n) for uid, title, e in expressions() for n in metric_names(e)
               if n not in exported and n not in recorded}
    assert not missing, f"panels read metrics nothing exports: {sorted(missing)}"
