"""Fixtures and helpers for the chat's HTTP tests: a real server (with or without the scripted LLM), the USDC
depeg of March 2023 replayed into it from the vendored Kraken hourly data, and keys for each role."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from studio import PROJECT_ROOT
from tests.helpers import Server
from tests.llm_server import ScriptedLLM

KRAKEN = PROJECT_ROOT / "data" / "stablecoin" / "kraken_usdcusd_hourly_2023-03-08_17.csv"
LLM_KEY = "sk-chat-test-key-41d7"
SYSTEM_MARK = "You help a risk and operations team"  # in every chat request's system prompt (prompts/chat.v1.yaml)


@dataclass
class ChatStack:
    server: Server
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # what a module's fixture set up (decisions, alerts)

    def client(self, role: str = "analyst") -> httpx.Client:
        return self.server.client(key="admin" if role == "admin" else self.keys[role]["key"])


def kraken_usdc() -> pd.DataFrame:
    df = pd.read_csv(KRAKEN)
    df["ts"] = pd.to_datetime(df["hour_utc"], utc=True).map(lambda t: int(t.timestamp()))
    return df


def replay_usdc(c: httpx.Client, df: pd.DataFrame, stream: str = "USDC") -> list[dict[str, Any]]:
    """The hourly closes, in order, as one batch of peg events (the way a client replays history)."""
    events = [{"profile": "peg", "stream": stream, "timestamp": int(ts), "value": float(v),
               "context": {"token": "USDC", "venue": "kraken"}} for ts, v in zip(df["ts"], df["close"], strict=True)]
    r = c.post("/v1/decisions:batch", json={"events": events})
    assert r.status_code == 200, r.text
    return list(r.json()["decisions"])


def chat_env(var: Path, trained_var: Path, llm: ScriptedLLM | None = None, **extra: str) -> dict[str, str]:
    env = {"STUDIO_VAR_DIR": str(var), "STUDIO_MODELS_DIR": str(trained_var / "models"), "STUDIO_LOG_LEVEL": "WARNING",
           "STUDIO_ENV": "test", "STUDIO_MAINTENANCE_INTERVAL_S": "0", "STUDIO_REVIEW_POLL_S": "0.2",
           "STUDIO_KEY_CACHE_S": "0.5", **extra}
    if llm is not None:  # explanations stay pending: every request the scripted LLM sees is the chat's
        env.update({"STUDIO_LLM_BASE_URL": llm.base_url, "STUDIO_LLM_MODEL": "scripted-1",
                    "STUDIO_LLM_API_KEY": LLM_KEY, "STUDIO_LLM_TIMEOUT_S": "5", "STUDIO_LLM_MAX_RETRIES": "0",
                    "STUDIO_EXPLANATION_WORKERS": "0"})
    return env


def start_stack(env: dict[str, str]) -> ChatStack:
    srv = Server(env).start()
    stack = ChatStack(srv)
    with srv.client() as c:
        for role in ("viewer", "analyst", "reviewer"):
            r = c.post("/v1/keys", json={"role": role, "name": f"{role}-chat"})
            assert r.status_code == 201, r.text
            stack.keys[role] = r.json()
    return stack


def ask(c: httpx.Client, message: str, thread_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if thread_id:
        body["thread_id"] = thread_id
    r = c.post("/v1/chat", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def sse(c: httpx.Client, body: dict[str, Any]) -> list[tuple[str, Any]]:
    """POST /v1/chat/stream, parsed into (event, data) pairs in arrival order."""
    out: list[tuple[str, Any]] = []
    with c.stream("POST", "/v1/chat/stream", json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        event, data = None, []
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and event is not None:
                out.append((event, json.loads("\n".join(data))))
                event, data = None, []
    return out


def chat_audit(c: httpx.Client, thread_id: str) -> list[dict[str, Any]]:
    r = c.get("/v1/audit", params={"action": "chat.*", "subject_id": thread_id, "limit": 500})
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


def all_ok(result: dict[str, Any]) -> bool:
    return bool(result["checks"]) and all(c["ok"] for c in result["checks"])


def wait_alerts_triaged(c: httpx.Client, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Every alert, once the review triager has started its thread (a verdict needs a paused thread)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        alerts = c.get("/v1/alerts", params={"limit": 200}).json()["alerts"]
        if alerts and all(a["review"]["status"] in ("awaiting_review", "triaged") for a in alerts):
            return list(alerts)
        time.sleep(0.2)
    raise AssertionError("alerts were not triaged in time")


@pytest.fixture(scope="module")
def usdc() -> pd.DataFrame:
    return kraken_usdc()


@pytest.fixture(scope="module")
def chat_var(trained_var: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    var = tmp_path_factory.mktemp("chat-var")
    shutil.copy(trained_var / "studio.db", var / "studio.db")
    return var
