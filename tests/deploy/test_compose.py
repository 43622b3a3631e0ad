"""docker-compose.yml matches what the code reads: every STUDIO_ variable is a setting, ports line up."""

from __future__ import annotations

import yaml

from core.settings import Settings
from studio import PROJECT_ROOT


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def test_services_and_build() -> None:
    c = _compose()
    assert {"api", "postgres", "redis"} <= set(c["services"])
    api = c["services"]["api"]
    assert api["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (PROJECT_ROOT / api["build"]["dockerfile"]).is_file()
    assert api["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_environment_matches_settings() -> None:
    api = _compose()["services"]["api"]
    env = api["environment"]
    fields = {f"STUDIO_{name.upper()}" for name in Settings.model_fields}
    unknown = set(env) - fields
    assert not unknown, f"compose sets variables the code never reads: {unknown}"
    s = Settings(**{k[len("STUDIO_"):].lower(): v for k, v in env.items()})  # prod validation passes
    assert s.env == "prod" and s.database_url.startswith("postgresql+psycopg://")
    pg = _compose()["services"]["postgres"]["environment"]
    assert f"{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}" in s.database_url
    assert s.redis_url == "redis://redis:6379/0"


def test_ports_and_volumes() -> None:
    c = _compose()
    api = c["services"]["api"]
    host, container = api["ports"][0].rsplit(":", 1)[0], api["ports"][0].rsplit(":", 1)[1]
    assert container == api["environment"]["STUDIO_PORT"] == "8000" and host.endswith("8000")
    var_mount = api["volumes"][0].split(":")
    assert var_mount[1] == api["environment"]["STUDIO_VAR_DIR"]
    assert var_mount[0] in c["volumes"]
    dockerfile = (PROJECT_ROOT / "deploy" / "Dockerfile").read_text()
    assert "EXPOSE 8000" in dockerfile and '"--port", "8000"' in dockerfile
    assert "/v1/health/ready" in dockerfile  # the container is healthy when it can serve, not merely alive


def test_the_ops_stack_is_complete_and_mounts_files_that_exist() -> None:
    """Prometheus, Alertmanager and Grafana are in the stack; every service has a healthcheck (the API's is
    its image's HEALTHCHECK); every file or folder the stack mounts from the repository exists. (No Docker
    here: `docker compose config` runs where Docker exists; this is the same check on the YAML.)"""
    c = _compose()
    services = c["services"]
    assert {"api", "postgres", "redis", "prometheus", "alertmanager", "grafana"} <= set(services)
    for name, svc in services.items():
        has_check = "healthcheck" in svc or (name == "api" and "HEALTHCHECK" in
                                             (PROJECT_ROOT / "deploy" / "Dockerfile").read_text())
        assert has_check, f"{name} has no healthcheck"
        for mount in svc.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("./"):
                assert (PROJECT_ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
            else:
                assert source in c["volumes"], f"{name} mounts an undeclared volume {source}"
    prom = yaml.safe_load((PROJECT_ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = [t for a in prom["alerting"]["alertmanagers"] for s in a["static_configs"] for t in s["targets"]]
    assert targets == ["alertmanager:9093"] and "9093:9093" in services["alertmanager"]["ports"][0]
    assert services["grafana"]["depends_on"] == ["prometheus"]


def test_alertmanager_config_is_valid() -> None:
    import shutil
    import subprocess

    import pytest

    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool is not installed (Debian's `prometheus-alertmanager`; .ci/run installs it)")
    r = subprocess.run([amtool, "check-config", str(PROJECT_ROOT / "deploy" / "alertmanager" / "alertmanager.yml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
