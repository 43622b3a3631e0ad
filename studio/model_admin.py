"""Model administration: list, promote, roll back and hot-reload a profile's models (every change audited)."""

from __future__ import annotations

import asyncio
from typing import Any

from core.errors import Conflict, NotFound
from core.profiles import get_profile
from models.bundle import ModelBundle, load_bundle
from store.audit import AuditRecord, append
from store.engine import write_tx
from studio.bootstrap import Studio, load_router


def listing(studio: Studio, profile: str | None = None) -> list[dict[str, Any]]:
    if profile:
        get_profile(studio.profiles, profile)
    rows = studio.registry.versions(profile)
    active = {p: studio.registry.active(p) for p in ({r["profile"] for r in rows})}
    for r in rows:
        r["active"] = active[r["profile"]].get(r["model"]) == r["version"]
        rt = studio.runtimes.get(r["profile"])
        r["serving"] = bool(rt and rt.bundle.versions.get(r["model"]) == r["version"])
    return rows


def _swap(studio: Studio, profile: str, new: ModelBundle) -> dict[str, Any]:
    """Install a new bundle: batches in flight keep the old one; streams recalibrate changed models."""
    rt = studio.runtimes[profile]
    old = rt.bundle
    changed = sorted(n for n, v in new.versions.items() if old.versions.get(n) != v)
    rt.bundle = new
    if rt.streams is not None and changed:
        rt.streams.models_changed(changed)
    router = load_router(studio, rt.profile)
    if router.version != rt.router.version:
        rt.router = router
    return {"changed": changed, "versions": new.versions, "not_serving": new.failures}


async def reload(studio: Studio, profile: str, *, actor: str, reason: str = "reload") -> dict[str, Any]:
    """Load the active versions (verified) in a worker thread, then swap them in between batches."""
    get_profile(studio.profiles, profile)
    rt = studio.runtimes[profile]
    new = await asyncio.to_thread(load_bundle, rt.profile, studio.registry, previous=rt.bundle)
    result = await studio.between_batches(lambda: _swap(studio, profile, new))  # between batches
    with write_tx(studio.engine) as conn:
        append(conn, [AuditRecord(actor, "models.reloaded", "profile", profile, {"reason": reason, **result})])
    return result


async def promote(studio: Studio, profile: str, model: str, version: str, *, actor: str, reason: str) -> dict[str, Any]:
    get_profile(studio.profiles, profile)
    if not any(r["model"] == model and r["version"] == version for r in studio.registry.versions(profile)):
        raise NotFound(f"no version {version!r} of {profile}/{model}")
    previous = await asyncio.to_thread(studio.registry.activate, profile, model, version, actor=actor, reason=reason)
    result = await reload(studio, profile, actor=actor, reason=f"promote {model}@{version}")
    if result["versions"].get(model) != version:
        raise Conflict(f"{profile}/{model}@{version} was activated but could not be loaded; "
                       f"{result['versions'].get(model)} keeps serving", details=result["not_serving"])
    return {"profile": profile, "model": model, "active": version, "previous": previous, **result}


async def rollback(studio: Studio, profile: str, model: str, *, actor: str, reason: str) -> dict[str, Any]:
    """Re-activate the version that was active before the current one."""
    history = studio.registry.history(profile, model)
    if len(history) < 2:
        raise Conflict(f"{profile}/{model} has no earlier activation to roll back to")
    current = history[-1]["version"]
    target = next((h["version"] for h in reversed(history[:-1]) if h["version"] != current), None)
    if target is None:
        raise Conflict(f"{profile}/{model} has only ever served {current}")
    return await promote(studio, profile, model, target, actor=actor, reason=f"rollback: {reason}")
