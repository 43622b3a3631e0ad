"""A served profile's live parts: its model bundle, its router (learned state, warm-started artifact or fresh),
its streams and its tools."""

from __future__ import annotations

import logging
from concurrent.futures import Executor

from sqlalchemy import Engine

from core.profiles import Profile
from models.bandit import RouterState
from models.bundle import load_bundle
from models.registry import ModelRegistry
from policies.rules import RulePack
from runtime.profile_runtime import ProfileRuntime, RouterRuntime
from runtime.streams import StreamManager
from store.bandit_repo import latest_state
from store.lookups import Lookups
from store.streams import StreamRepository

log = logging.getLogger(__name__)


def load_router(engine: Engine, registry: ModelRegistry, profile: Profile) -> RouterRuntime:
    """The latest learned state (from feedback) if it grew from the active warm-started artifact, else that
    artifact, else a fresh router."""
    version = registry.active(profile.name).get("router")
    learned = latest_state(engine, profile.name)
    if learned is not None and learned["state"].get("base") == version:
        return RouterRuntime(state=RouterState.from_json(learned["state"]), version=f"r{learned['version']}")
    if version is not None:
        state = registry.load(profile.name, "router", version)
        state.base = version
        return RouterRuntime(state=state, version=version)
    arms = list(profile.router.arms)
    return RouterRuntime(state=RouterState(arms, alpha=profile.router.alpha, epsilon=profile.router.epsilon),
                         version="untrained")


def build_runtime(profile: Profile, pack: RulePack, *, engine: Engine, registry: ModelRegistry, lookups: Lookups,
                  refit_every: int, fit_executor: Executor | None,
                  streams: StreamManager | None = None) -> ProfileRuntime:
    bundle = load_bundle(profile, registry)
    for name, why in bundle.failures.items():
        log.warning("profile %s: model %s not serving: %s", profile.name, name, why)
    if streams is None and profile.is_stream:
        streams = StreamManager(profile, StreamRepository(engine), refit_every=refit_every, executor=fit_executor)
    rt = ProfileRuntime(profile=profile, pack=pack, bundle=bundle, router=load_router(engine, registry, profile),
                        streams=streams)
    from tools.registry import profile_tools

    rt.tools = profile_tools(rt, lookups, engine)
    return rt
