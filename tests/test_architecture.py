"""The layer contracts of pyproject.toml (docs/architecture.md) hold: every package imports only the packages
below it, core imports nothing of ours, the API never imports the store, and no package has an import cycle
among its modules. import-linter builds the import graph from the source, so a new import that points up fails
this test. The composition root has no untyped field, and each route depends on at most one service."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

from fastapi.routing import APIRoute

from core import PROJECT_ROOT

LAYERS = ["api", "studio", "graph", "runtime", "tools", "models", "store", "policies", "core"]


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(lint), "--no-cache"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "4 kept, 0 broken" in r.stdout


def test_the_contracts_cover_every_package_in_the_documented_order() -> None:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")
    assert layers["layers"] == LAYERS and sorted(config["root_packages"]) == sorted(LAYERS)
    packages = sorted(p.parent.name for p in PROJECT_ROOT.glob("*/__init__.py")
                      if p.parent.name not in ("tests", "bench", "prompts"))
    assert packages == sorted(LAYERS)  # a new top-level package must be placed in the layers
    doc = (PROJECT_ROOT / "docs" / "architecture.md").read_text()
    assert " > ".join(LAYERS) in doc


def test_the_composition_root_has_no_untyped_field() -> None:
    from studio.bootstrap import Studio

    untyped = [f.name for f in dataclasses.fields(Studio) if "Any" in str(f.type) or "object" in str(f.type)]
    assert not untyped


def test_each_route_depends_on_one_service_at_most() -> None:
    import importlib
    import pkgutil

    import api.routes
    from api import deps

    getters = {getattr(deps, n) for n in dir(deps) if n.startswith("get_") and n != "get_request_id"}
    routes = [r for m in pkgutil.iter_modules(api.routes.__path__)
              for r in importlib.import_module(f"api.routes.{m.name}").router.routes]
    seen = 0
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        used = [d.call for d in route.dependant.dependencies if d.call in getters]
        assert len(used) <= 1, (route.path, used)
        assert deps.get_studio not in used, f"{route.path} takes the whole Studio"
        seen += len(used)
    assert seen > 30
