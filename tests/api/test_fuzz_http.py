"""Property-based fuzzing of the whole HTTP API: schemathesis over the served OpenAPI document, with an admin
key, on SQLite, in every phase (the document's examples, boundary coverage, random fuzzing), with positive and
negative data. No input may give a 5xx; every status code and content type must be documented; every response
must match its documented schema; and data that violates the schema must be refused.

Bounded: STUDIO_FUZZ_EXAMPLES cases per operation (default 80: about a minute on 2 cores); STUDIO_FUZZ_MAX_S
makes it a time budget instead (fuzzing then repeats until it is spent), for a longer local run. Left out on
purpose: `positive_data_acceptance` (the schema cannot say everything the service checks: a snooze time in the
past, a duplicate without `duplicate_of`, an event outside its profile's bounds are schema-valid and still
refused) and `POST /v1/models/{profile}/reload` (reloads every model: seconds per call, covered by
tests/api/test_models_http.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Server

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)


@pytest.fixture(scope="module")
def fuzz_server(trained_var: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    var = tmp_path_factory.mktemp("fuzz-var")
    shutil.copy(trained_var / "studio.db", var / "studio.db")
    env = {
        "STUDIO_VAR_DIR": str(var),
        "STUDIO_MODELS_DIR": str(trained_var / "models"),
        "STUDIO_LOG_LEVEL": "WARNING",
        "STUDIO_ENV": "test",
        "STUDIO_RATE_LIMIT_PER_S": "100000",
        "STUDIO_RATE_LIMIT_BURST": "100000",
        "STUDIO_MAINTENANCE_INTERVAL_S": "0",
    }
    with Server(env) as srv:
        yield srv


@pytest.mark.timeout(400)
def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    fuzz_server: Server, tmp_path: Path
) -> None:
    examples = os.environ.get("STUDIO_FUZZ_EXAMPLES", "80")
    budget = os.environ.get("STUDIO_FUZZ_MAX_S")
    cli = Path(sys.executable).with_name("schemathesis")
    cmd = [
        str(cli),
        "run",
        f"{fuzz_server.url}/openapi.json",
        "-H",
        f"Authorization: Bearer {fuzz_server.admin_key}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--mode",
        "all",
        "--max-examples",
        examples,
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--no-shrink",
        "--exclude-operation-id",
        "reload",
        "--output-truncate",
        "false",
        *(["--max-time", budget] if budget else []),
    ]
    r = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=int(budget or 240) + 120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    report = r.stdout[-20000:] + r.stderr[-4000:]
    assert r.returncode == 0, report
    assert "Tested: " in r.stdout and "generated" in r.stdout, report
