"""Structured logs: STUDIO_LOG_FORMAT=json gives one JSON object per line with the request id, the API key's id
(never the key), the decision id and the trace id of what the line is about; the server's own lines (uvicorn,
access log) come out in the same format."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from core import log_context
from studio import PROJECT_ROOT
from studio.logging import ContextFilter, formatter
from tests.helpers import Server, server_env

JSON_KEYS = ("time", "level", "logger", "message", "request_id", "key_id", "decision_id", "trace_id")


def test_a_json_line_carries_its_context() -> None:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(formatter("json"))
    handler.addFilter(ContextFilter())
    log = logging.getLogger("studio.test_logging")
    log.addHandler(handler)
    log.propagate = False
    tokens = [log_context.request_id.set("req-1"), log_context.key_id.set("key_01"),
              log_context.decision_id.set("dec_01")]
    try:
        log.warning("scored %d events", 3)
    finally:
        for var, tok in zip((log_context.request_id, log_context.key_id, log_context.decision_id), tokens,
                            strict=True):
            var.reset(tok)
        log.removeHandler(handler)
    line = json.loads(buf.getvalue())
    assert line["message"] == "scored 3 events" and line["level"] == "WARNING"
    assert line["logger"] == "studio.test_logging" and line["time"]
    assert (line["request_id"], line["key_id"], line["decision_id"]) == ("req-1", "key_01", "dec_01")
    assert "trace_id" in line


def test_the_text_format_is_one_line_with_the_request_id() -> None:
    record = logging.LogRecord("studio", logging.INFO, __file__, 1, "hello", None, None)
    token = log_context.request_id.set("req-2")
    try:
        ContextFilter().filter(record)
    finally:
        log_context.request_id.reset(token)
    text = formatter("text").format(record)
    assert "hello" in text and "request_id=req-2" in text and "\n" not in text


def test_the_server_logs_json_with_request_and_key_ids(settings: Any) -> None:  # type: ignore[no-untyped-def]
    env = {**server_env(settings), "STUDIO_LOG_FORMAT": "json", "STUDIO_LOG_LEVEL": "INFO"}
    srv = Server(env, args=("--access-log",))
    srv.start()
    try:
        with srv.client() as c:
            me = c.get("/v1/keys/me").json()
            r = c.get("/v1/health", headers={"X-Request-ID": "trace-me-123"})
            assert r.headers["x-request-id"] == "trace-me-123"
            bad = httpx.get(f"{srv.url}/v1/keys/me", headers={"Authorization": "Bearer gms_not-a-key",
                                                              "X-Request-ID": "denied-456"}, timeout=10)
            assert bad.status_code == 401
    finally:
        srv.stop()
    key = srv.admin_key
    assert key is not None
    # every line is JSON, except the first start's one-time banner with the new admin key (printed, not logged)
    lines = [ln for ln in srv.log.read_text().splitlines() if ln.strip()]
    banner = [ln for ln in lines if "first admin API key" in ln or ln.strip() == key]
    records = [json.loads(ln) for ln in lines if ln not in banner]
    assert records and not any(key in json.dumps(r) for r in records)  # the key is never logged
    assert any(r["logger"] == "uvicorn.access" for r in records)  # the server's own lines, same format
    health = [r for r in records if r["request_id"] == "trace-me-123"]
    assert health and health[0]["logger"] == "uvicorn.access" and "/v1/health" in health[0]["message"]
    mine = [r for r in records if r.get("key_id") == me["id"]]
    assert mine and all(set(JSON_KEYS) <= set(r) for r in records)
    assert any(r["request_id"] == "denied-456" and r["key_id"] is None for r in records)


def test_the_cli_accepts_both_formats(tmp_path: Path) -> None:
    for fmt in ("json", "text"):
        r = subprocess.run([sys.executable, "-m", "studio.cli", "db", "current"], cwd=PROJECT_ROOT,
                           capture_output=True, text=True, timeout=120,
                           env={"STUDIO_LOG_FORMAT": fmt, "PATH": "/usr/bin:/bin",
                                "STUDIO_VAR_DIR": str(tmp_path)})
        assert r.returncode == 0, r.stderr[-2000:]
