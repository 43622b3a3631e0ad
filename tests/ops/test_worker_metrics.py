"""`studio worker --metrics-port P` serves its own registry: the explanation and LLM metrics and the process
collectors, in the same conventions as the server (no _created series)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from studio import PROJECT_ROOT
from tests.helpers import free_port, stop_process


def test_the_worker_exposes_its_own_metrics(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "STUDIO_VAR_DIR": str(tmp_path), "STUDIO_ENV": "test", "STUDIO_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "worker", "--workers", "1", "--metrics-port",
                             str(port)], cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    text = ""
    try:
        for _ in range(100):
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                break
            except httpx.HTTPError:
                time.sleep(0.2)
    finally:
        stop_process(proc)
    assert "# TYPE studio_explanations_total counter" in text and "# TYPE studio_llm_seconds histogram" in text
    assert "process_cpu_seconds_total" in text and "python_info" in text
    assert "_created" not in text
