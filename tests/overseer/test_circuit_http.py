"""The LLM circuit breaker over a real server and a scripted LLM: consecutive failures open it; while open the
LLM is not called and explanations fall back to the template at once; /v1/health, /v1/health/ready and
/metrics say so; after the (short, configured) cool-down one trial call closes it again."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from store.engine import make_engine
from tests.helpers import Server
from tests.llm_server import Reply, ScriptedLLM
from tests.overseer.conftest import API_KEY, audit_of, job_of, overseer_env
from tests.overseer.scripts import judged, narrated, narration, verdict

COOLDOWN_S = 8.0


@pytest.fixture(scope="module")
def flaky_llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(api_key=API_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def server(trained_var: Path, tmp_path_factory: pytest.TempPathFactory, flaky_llm: ScriptedLLM,
           overseer_profiles: Path) -> Iterator[Server]:
    var = tmp_path_factory.mktemp("circuit-var")
    shutil.copy(trained_var / "studio.db", var / "studio.db")
    env = overseer_env(var, trained_var, flaky_llm, overseer_profiles, STUDIO_LLM_CIRCUIT_FAILURES="2",
                       STUDIO_LLM_CIRCUIT_COOLDOWN_S=str(COOLDOWN_S), STUDIO_EXPLANATION_MAX_ATTEMPTS="3",
                       STUDIO_HEALTH_CACHE_S="0")
    with Server(env) as srv:
        srv.engine = make_engine(f"sqlite:///{var / 'studio.db'}")  # type: ignore[attr-defined]
        yield srv


def decide(srv: Server) -> dict[str, Any]:
    body = {"profile": "peg", "stream": f"CB-{uuid.uuid4().hex[:6]}", "value": 0.979,
            "timestamp": "2023-03-11T07:00:00Z", "context": {"token": "USDC"}}
    r = httpx.post(f"{srv.url}/v1/decisions", json=body, params={"explain": "wait", "timeout_ms": 20_000},
                   timeout=60, headers=srv.headers)
    assert r.status_code == 200, r.text
    return r.json()


def overseer_health(srv: Server) -> tuple[dict[str, Any], dict[str, Any]]:
    h = httpx.get(f"{srv.url}/v1/health", timeout=30).json()
    return h, next(d for d in h["dependencies"] if d["name"] == "overseer")


def ready(srv: Server) -> tuple[int, dict[str, Any], dict[str, Any]]:
    r = httpx.get(f"{srv.url}/v1/health/ready", timeout=30)
    body = r.json()
    return r.status_code, body, next(c for c in body["checks"] if c["name"] == "llm")


def gauge(srv: Server, name: str) -> float:
    for line in httpx.get(f"{srv.url}/metrics", timeout=30).text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")


def test_liveness_and_readiness_when_everything_answers(server: Server, flaky_llm: ScriptedLLM) -> None:
    live = httpx.get(f"{server.url}/v1/health/live", timeout=10)
    assert live.status_code == 200 and live.json()["status"] == "live"
    flaky_llm.script(judged(verdict()), narrated(narration()))
    assert decide(server)["explanation"]["provider"] == "overseer"
    status, body, llm = ready(server)
    assert status == 200 and body["status"] == "ready" and body["ready"] is True
    assert {c["name"] for c in body["checks"]} == {"database", "llm"}
    assert all(c["status"] == "ok" and c["latency_ms"] >= 0 for c in body["checks"])
    assert llm["circuit"]["state"] == "closed" and llm["required"] is False
    assert gauge(server, "studio_llm_circuit_open") == 0.0


def test_the_circuit_opens_the_fallback_is_immediate_and_it_closes_after_the_cooldown(
        server: Server, flaky_llm: ScriptedLLM) -> None:
    # two consecutive failures (attempts 1 and 2 of the job) open it; attempt 3 is refused without a call
    flaky_llm.script(judged(Reply(status=500), times=2))
    d = decide(server)
    exp = d["explanation"]
    assert exp["status"] == "failed" and exp["provider"] == "template" and "circuit_open" in exp["error"]
    assert "circuit breaker is open" in exp["notice"] and "Governor: action critical" in exp["text"]
    assert len(flaky_llm.requests) == 2
    job = job_of(server.engine, d["id"])  # type: ignore[attr-defined]
    assert job is not None and job["status"] == "dead" and job["attempts"] == 3
    h, ov = overseer_health(server)
    assert ov["status"] == "degraded" and ov["circuit"]["state"] == "open" and h["status"] == "degraded"
    assert ov["circuit"]["retry_in_s"] > 2.0, "the test is too slow for its cool-down"
    status, body, llm = ready(server)
    assert status == 200 and body["ready"] is True and body["status"] == "degraded"  # decisions still served
    assert llm["status"] == "degraded" and llm["circuit"]["state"] == "open" and llm["latency_ms"] >= 0
    assert gauge(server, "studio_llm_circuit_open") == 1.0
    assert gauge(server, "studio_llm_circuit_transitions_total") == 1.0  # {state="open"}
    # open: the endpoint (which would answer well now) is not called; the template comes back at once
    flaky_llm.script(judged(verdict()), narrated(narration()))
    start = time.monotonic()
    d2 = decide(server)
    elapsed = time.monotonic() - start
    assert d2["explanation"]["status"] == "failed" and d2["explanation"]["provider"] == "template"
    assert flaky_llm.requests == [] and elapsed < 3.0
    assert job_of(server.engine, d2["id"])["attempts"] == 1  # type: ignore[attr-defined,index]
    events = audit_of(server.engine, d2["id"])  # type: ignore[attr-defined]
    [failed] = [e for e in events if e["action"] == "explanation.failed"]
    assert failed["calls"][0]["outcome"] == "circuit_open" and failed["fallback"] == "template"
    # after the cool-down: half open (the next call is a trial), and a good answer closes it
    deadline = time.monotonic() + COOLDOWN_S + 10
    while overseer_health(server)[1]["circuit"]["state"] != "half_open":
        assert time.monotonic() < deadline, "the circuit never half-opened"
        time.sleep(0.2)
    assert gauge(server, "studio_llm_circuit_open") == 0.0
    d3 = decide(server)
    assert d3["explanation"]["status"] == "ready" and d3["explanation"]["provider"] == "overseer"
    h, ov = overseer_health(server)
    assert ov["status"] == "ok" and ov["circuit"]["state"] == "closed" and h["status"] == "ok"
    assert ready(server)[1]["status"] == "ready"


def test_readiness_reports_an_llm_endpoint_that_is_down(server: Server, flaky_llm: ScriptedLLM) -> None:
    flaky_llm.stop()
    status, body, llm = ready(server)
    assert status == 200 and body["status"] == "degraded"  # the LLM is not required (STUDIO_READY_REQUIRES)
    assert llm["status"] == "down" and llm["error"] and llm["latency_ms"] >= 0
    assert httpx.get(f"{server.url}/v1/health", timeout=30).json()["status"] == "degraded"
