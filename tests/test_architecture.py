"""The layer contracts of pyproject.toml (docs/architecture.md) hold: every package imports only the packages
below it, core imports nothing of ours, and no package has an import cycle among its modules. import-linter
builds the import graph from the source, so a new import that points up fails this test."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from core import PROJECT_ROOT

LAYERS = ["api", "studio", "graph", "tools", "models", "store", "policies", "core"]


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(lint), "--no-cache"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "3 kept, 0 broken" in r.stdout


def test_the_contracts_cover_every_package_in_the_documented_order() -> None:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")
    assert layers["layers"] == LAYERS and sorted(config["root_packages"]) == sorted(LAYERS)
    packages = sorted(p.parent.name for p in PROJECT_ROOT.glob("*/__init__.py")
                      if p.parent.name not in ("tests", "bench", "prompts"))
    assert packages == sorted(LAYERS)  # a new top-level package must be placed in the layers
    doc = (PROJECT_ROOT / "docs" / "architecture.md").read_text()
    assert " > ".join(LAYERS) in doc
