"""Versioned model artifacts under <root>/<profile>/<model>/<version>/ with a sha256 manifest, verified on load.

Publishing is crash-safe: the files are written (and fsynced) into a hidden temporary directory, renamed into
place, and only then recorded in the database, all under an exclusive lock on <root>/.registry.lock. A process
killed at any point leaves at most a directory that the database does not know: a version number is never
reused (the next one is above every recorded version and every name on disk or in quarantine), and `recover`
moves such leftovers to <root>/.quarantine/ and reports them."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core.errors import ArtifactIntegrityError, NotFound
from core.testhooks import pause_point
from core.version import code_version
from models.catalog import model_class
from models.serialization import load_json, save_json, sha256_file
from store import model_repo
from store.audit import AuditRecord, append
from store.engine import write_tx
from store.ids import now_iso

log = logging.getLogger(__name__)
QUARANTINE = ".quarantine"
LOCK_FILE = ".registry.lock"
_VERSION_NAME = re.compile(r"^\.?v(\d+)(?:$|[.-])")  # v3, .v3.tmp-1a2b3c4d, v3-20240101T000000Z-1a2b3c


def _fsync(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _version_numbers(directory: Path) -> list[int]:
    if not directory.is_dir():
        return []
    return [int(m.group(1)) for p in directory.iterdir() if (m := _VERSION_NAME.match(p.name))]


def component_class(name: str) -> Any:
    if name == "pipeline":
        from models.pipeline import FeaturePipeline

        return FeaturePipeline
    if name == "router":
        from models.bandit import RouterState

        return RouterState
    return model_class(name)


class ModelRegistry:
    """Writes artifacts atomically, records them (and every activation) in the database and the audit trail."""

    def __init__(self, root: Path, engine: Engine) -> None:
        self.root = root
        self.engine = engine

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across processes and threads (flock; released by the kernel if the holder dies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILE, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def next_version(self, profile: str, name: str) -> str:
        """Above every recorded version and every version-like name on disk or in quarantine: never reused."""
        last_recorded = int(model_repo.next_version(self.engine, profile, name)[1:]) - 1
        on_disk = [*_version_numbers(self.root / profile / name),
                   *_version_numbers(self.root / QUARANTINE / profile / name)]
        return f"v{max([last_recorded, *on_disk]) + 1}"

    def publish(self, profile: str, model: Any, *, data_sha256: str, metrics: dict[str, Any], actor: str) -> str:
        """Save a fitted model as the next version of (profile, model.name); returns the version."""
        with self.locked():
            version = self.next_version(profile, model.name)
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
                for f in tmp.iterdir():
                    if f.is_file():
                        _fsync(f)
                pause_point("publish.written")
                os.rename(tmp, final)  # `final` does not exist: its number is above every name on disk
                _fsync(final.parent, directory=True)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            pause_point("publish.renamed")
            row = {
                "profile": profile, "model": model.name, "version": version, "family": model.family,
                "format": model.artifact_format, "path": str(rel),
                "manifest_sha256": sha256_file(final / "manifest.json"), "data_sha256": data_sha256,
                "code_version": manifest["code_version"], "created_at": manifest["created_at"], "metrics": metrics,
            }
            try:
                with write_tx(self.engine) as conn:
                    model_repo.record_version(conn, row, actor)
            except BaseException:  # not recorded: out of the way at once (recover() would find it otherwise)
                with contextlib.suppress(OSError):
                    self._quarantine(final, profile, model.name)
                raise
        return version

    def _quarantine(self, path: Path, profile: str, name: str) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        dest = self.root / QUARANTINE / profile / name / f"{path.name.lstrip('.')}-{stamp}-{uuid.uuid4().hex[:6]}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.rename(path, dest)
        return dest

    def recover(self, profile: str | None = None, *, actor: str = "registry") -> list[dict[str, Any]]:
        """Move every version directory the database does not record (a publish killed before it was recorded,
        or an unfinished temporary one) to <root>/.quarantine/; returns (and logs and audits) what moved."""
        moved: list[dict[str, Any]] = []
        with self.locked():
            recorded = {r["path"] for r in model_repo.list_versions(self.engine, profile)}
            profiles = [self.root / profile] if profile else sorted(self.root.iterdir())
            for pdir in profiles:
                if not pdir.is_dir() or pdir.name.startswith("."):
                    continue
                for mdir in sorted(p for p in pdir.iterdir() if p.is_dir()):
                    for vdir in sorted(p for p in mdir.iterdir() if p.is_dir()):
                        rel = str(Path(pdir.name) / mdir.name / vdir.name)
                        if rel in recorded:
                            continue
                        unfinished = vdir.name.startswith(".")
                        dest = self._quarantine(vdir, pdir.name, mdir.name)
                        moved.append({"profile": pdir.name, "model": mdir.name, "entry": vdir.name,
                                      "reason": "unfinished write" if unfinished else "not recorded in the registry",
                                      "moved_to": str(dest.relative_to(self.root))})
        for m in moved:
            log.warning("model registry: quarantined %s/%s/%s (%s) -> %s", m["profile"], m["model"], m["entry"],
                        m["reason"], m["moved_to"])
        if moved:
            with write_tx(self.engine) as conn:
                append(conn, [AuditRecord(actor, "model.quarantined", "model", f"{m['profile']}/{m['model']}", m)
                              for m in moved])
        return moved

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
        return self.activate_many(profile, {name: version}, actor=actor, reason=reason).get(name)

    def activate_many(self, profile: str, versions: dict[str, str], *, actor: str,
                      reason: str) -> dict[str, str | None]:
        """Activate several versions in ONE transaction (all or none); returns each model's previous version."""
        for name, version in versions.items():
            self.verify(profile, name, version)
        active = model_repo.active_versions(self.engine, profile)
        previous = {name: active.get(name) for name in versions}
        with write_tx(self.engine) as conn:
            for name, version in versions.items():
                model_repo.record_activation(conn, profile, name, version, actor, reason, previous[name])
        return previous

    def active(self, profile: str) -> dict[str, str]:
        return model_repo.active_versions(self.engine, profile)

    def versions(self, profile: str | None = None) -> list[dict[str, Any]]:
        return model_repo.list_versions(self.engine, profile)

    def history(self, profile: str, name: str) -> list[dict[str, Any]]:
        return model_repo.activation_history(self.engine, profile, name)
