"""The domain objects of core/domain.py (Decision, ModelOutput, Alert, AuditEvent, ...) are checked across every
layer by mypy over the packages of pyproject.toml: a key that does not exist, a value of the wrong type or a
decision passed where an alert is expected fails this test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core import PROJECT_ROOT


def test_the_packages_type_check() -> None:
    mypy = Path(sys.executable).with_name("mypy")
    r = subprocess.run([str(mypy), "--no-error-summary"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]


def test_a_decision_is_typed_to_the_key() -> None:
    """The TypedDict is what the graph builds: its keys are exactly a decision's (content_sha256 on read)."""
    from core.domain import Decision

    keys = set(Decision.__annotations__)
    assert Decision.__required_keys__ == keys - {"content_sha256"}
    assert {"id", "models", "router", "governor", "explanation", "replay"} <= keys
