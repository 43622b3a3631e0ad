"""Versioned model artifacts under <root>/<profile>/<model>/<version>/ with a sha256 manifest, verified on load."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from models.catalog import model_class
from models.serialization import load_json, save_json, sha256_file
from store import model_repo
from store.engine import write_tx
from store.ids import now_iso
from studio.errors import ArtifactIntegrityError, NotFound
from studio.version import code_version


def component_class(name: str) -> Any:
    if name == "pipeline":
        from models.pipeline import FeaturePipeline

        return FeaturePipeline
    if name == "router":
        from models.router import RouterState

        return RouterState
    return model_class(name)


class ModelRegistry:
    """Writes artifacts atomically, records them (and every activation) in the database and the audit trail."""

    def __init__(self, root: Path, engine: Engine) -> None:
        self.root = root
        self.engine = engine

    def publish(self, profile: str, model: Any, *, data_sha256: str, metrics: dict[str, Any], actor: str) -> str:
        """Save a fitted model as the next version of (profile, model.name); returns the version."""
        version = model_repo.next_version(self.engine, profile, model.name)
        rel = Path(profile) / model.name / version
        final = self.root / rel
        tmp = final.with_name(f".{version}.tmp-{uuid.uuid4().hex[:8]}")
        tmp.mkdir(parents=True)
        try:
            meta = model.save(tmp)
            save_json(meta, tmp / "meta.json")
            files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
            manifest = {
                "profile": profile, "model": model.name, "version": version,
                "class": f"{type(model).__module__}:{type(model).__qualname__}",
                "family": model.family, "format": model.artifact_format, "files": files,
                "training_data_sha256": data_sha256, "metrics": metrics, "created_at": now_iso(),
                "code_version": code_version(),
            }
            save_json(manifest, tmp / "manifest.json")
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        row = {
            "profile": profile, "model": model.name, "version": version, "family": model.family,
            "format": model.artifact_format, "path": str(rel), "manifest_sha256": sha256_file(final / "manifest.json"),
            "data_sha256": data_sha256, "code_version": manifest["code_version"], "created_at": manifest["created_at"],
            "metrics": metrics,
        }
        with write_tx(self.engine) as conn:
            model_repo.record_version(conn, row, actor)
        return version

    def verify(self, profile: str, name: str, version: str) -> tuple[Path, dict[str, Any]]:
        """Check the manifest against the database and every file against the manifest."""
        row = model_repo.version_row(self.engine, profile, name, version)
        if row is None:
            raise NotFound(f"no version {version!r} of model {profile}/{name}")
        directory = self.root / row["path"]
        manifest_path = directory / "manifest.json"
        where = f"{profile}/{name}@{version}"
        if not manifest_path.is_file():
            raise ArtifactIntegrityError(f"{where}: manifest.json is missing", details={"path": str(directory)})
        if sha256_file(manifest_path) != row["manifest_sha256"]:
            raise ArtifactIntegrityError(f"{where}: manifest.json does not match its registered sha256")
        manifest = load_json(manifest_path)
        bad = []
        for fname, digest in manifest["files"].items():
            path = directory / fname
            if not path.is_file():
                bad.append({"file": fname, "problem": "missing"})
            elif sha256_file(path) != digest:
                bad.append({"file": fname, "problem": "sha256 mismatch"})
        if bad:
            raise ArtifactIntegrityError(f"{where}: artifact files were altered or removed", details=bad)
        return directory, manifest

    def load(self, profile: str, name: str, version: str) -> Any:
        directory, _ = self.verify(profile, name, version)
        meta = load_json(directory / "meta.json")
        model = component_class(name).load(directory, meta)
        model.version = version
        return model

    def activate(self, profile: str, name: str, version: str, *, actor: str, reason: str) -> str | None:
        """Record version as active (after verifying it); returns the previously active version."""
        self.verify(profile, name, version)
        previous = model_repo.active_versions(self.engine, profile).get(name)
        with write_tx(self.engine) as conn:
            model_repo.record_activation(conn, profile, name, version, actor, reason, previous)
        return previous

    def active(self, profile: str) -> dict[str, str]:
        return model_repo.active_versions(self.engine, profile)

    def versions(self, profile: str | None = None) -> list[dict[str, Any]]:
        return model_repo.list_versions(self.engine, profile)

    def history(self, profile: str, name: str) -> list[dict[str, Any]]:
        return model_repo.activation_history(self.engine, profile, name)
