"""Model administration: list, promote, roll back and hot-reload a profile's models (every change audited)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Engine

from core.errors import Conflict, NotFound
from core.profiles import Profile, get_profile
from models.bundle import ModelBundle, load_bundle
from models.registry import ModelRegistry
from runtime.profile_runtime import ProfileRuntime
from store.audit import AuditRecord, append
from store.engine import write_tx
from studio.runtimes import load_router


class ModelAdmin:
    def __init__(self, engine: Engine, registry: ModelRegistry, profiles: dict[str, Profile],
                 runtimes: dict[str, ProfileRuntime],
                 between_batches: Callable[[Callable[[], dict[str, Any]]], Awaitable[dict[str, Any]]]) -> None:
        self.engine = engine
        self.registry = registry
        self.profiles = profiles
        self.runtimes = runtimes
        self.between_batches = between_batches

    def listing(self, profile: str | None = None) -> list[dict[str, Any]]:
        if profile:
            get_profile(self.profiles, profile)
        rows = self.registry.versions(profile)
        active = {p: self.registry.active(p) for p in ({r["profile"] for r in rows})}
        for r in rows:
            r["active"] = active[r["profile"]].get(r["model"]) == r["version"]
            rt = self.runtimes.get(r["profile"])
            r["serving"] = bool(rt and rt.bundle.versions.get(r["model"]) == r["version"])
        return rows

    def _swap(self, profile: str, new: ModelBundle) -> dict[str, Any]:
        """Install a new bundle: batches in flight keep the old one; streams recalibrate changed models."""
        rt = self.runtimes[profile]
        old = rt.bundle
        changed = sorted(n for n, v in new.versions.items() if old.versions.get(n) != v)
        rt.bundle = new
        if rt.streams is not None and changed:
            rt.streams.models_changed(changed)
        router = load_router(self.engine, self.registry, rt.profile)
        if router.version != rt.router.version:
            rt.router = router
        return {"changed": changed, "versions": new.versions, "not_serving": new.failures}

    async def reload(self, profile: str, *, actor: str, reason: str = "reload") -> dict[str, Any]:
        """Load the active versions (verified) in a worker thread, then swap them in between batches."""
        get_profile(self.profiles, profile)
        rt = self.runtimes[profile]
        new = await asyncio.to_thread(load_bundle, rt.profile, self.registry, previous=rt.bundle)
        result = await self.between_batches(lambda: self._swap(profile, new))
        with write_tx(self.engine) as conn:
            append(conn, [AuditRecord(actor, "models.reloaded", "profile", profile, {"reason": reason, **result})])
        return result

    async def promote(self, profile: str, model: str, version: str, *, actor: str, reason: str) -> dict[str, Any]:
        get_profile(self.profiles, profile)
        if not any(r["model"] == model and r["version"] == version for r in self.registry.versions(profile)):
            raise NotFound(f"no version {version!r} of {profile}/{model}")
        previous = await asyncio.to_thread(self.registry.activate, profile, model, version, actor=actor,
                                           reason=reason)
        result = await self.reload(profile, actor=actor, reason=f"promote {model}@{version}")
        if result["versions"].get(model) != version:
            raise Conflict(f"{profile}/{model}@{version} was activated but could not be loaded; "
                           f"{result['versions'].get(model)} keeps serving", details=result["not_serving"])
        return {"profile": profile, "model": model, "active": version, "previous": previous, **result}

    async def rollback(self, profile: str, model: str, *, actor: str, reason: str) -> dict[str, Any]:
        """Re-activate the version that was active before the current one."""
        history = self.registry.history(profile, model)
        if len(history) < 2:
            raise Conflict(f"{profile}/{model} has no earlier activation to roll back to")
        current = history[-1]["version"]
        target = next((h["version"] for h in reversed(history[:-1]) if h["version"] != current), None)
        if target is None:
            raise Conflict(f"{profile}/{model} has only ever served {current}")
        return await self.promote(profile, model, target, actor=actor, reason=f"rollback: {reason}")
