"""Feedback: an outcome labels a decision and rewards the router arm it logged (one transaction, audited); and
the router's state with an offline evaluation of its policy on the decisions that have feedback."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from sqlalchemy import Engine

from core.errors import NotFound, ValidationFailed
from core.profiles import Profile, get_profile
from models.bandit import CONTEXT, off_policy_evaluation, reward
from runtime.profile_runtime import ProfileRuntime
from store import bandit_repo
from store.decisions import get_decision
from store.engine import write_tx


class FeedbackService:
    def __init__(self, engine: Engine, profiles: dict[str, Profile], runtimes: dict[str, ProfileRuntime]) -> None:
        self.engine = engine
        self.profiles = profiles
        self.runtimes = runtimes

    async def record(self, *, decision_id: str, outcome: float, source: str = "api", actor: str = "api",
                     note: str = "") -> dict[str, Any]:
        """Label a decision with its outcome (1 = incident, 0 = normal) and teach the router."""
        if not 0.0 <= outcome <= 1.0:
            raise ValidationFailed("outcome must be between 0 (normal) and 1 (incident)")
        return await asyncio.to_thread(self._apply, decision_id, outcome, source, actor, note)

    def _apply(self, decision_id: str, outcome: float, source: str, actor: str, note: str) -> dict[str, Any]:
        d = get_decision(self.engine, decision_id)
        if d is None:
            raise NotFound(f"no decision {decision_id!r}")
        rt = self.runtimes.get(d["profile"])
        if rt is None:
            raise ValidationFailed(f"profile {d['profile']!r} is not served here")
        arm, prop = d["router"]["arm"], float(d["router"]["propensity"])
        r = reward(d["score"], outcome)
        router = rt.router
        with router.lock:
            learned = arm in router.state.arms
            if learned:
                router.state.update(arm, np.asarray(d["router"]["context"], dtype=float), r)
            snapshot = router.state.to_json()
            with write_tx(self.engine) as conn:
                fid = bandit_repo.record_feedback(conn, {
                    "decision_id": decision_id, "profile": d["profile"], "outcome": outcome, "source": source,
                    "actor": actor, "note": note, "arm": arm, "propensity": prop, "reward": r,
                    "router_version": d["router"].get("router_version", "")})
                version = None
                if learned:
                    version = bandit_repo.save_state(conn, d["profile"], snapshot, reason=f"feedback {fid}",
                                                     updates=router.state.updates, actor=actor)
            if version is not None:
                router.version = f"r{version}"
        return {"feedback_id": fid, "decision_id": decision_id, "profile": d["profile"], "outcome": outcome,
                "arm": arm, "propensity": prop, "reward": round(r, 6), "router_version": router.version,
                "router_learned": learned}

    async def router_view(self, profile: str) -> dict[str, Any]:
        """The router's state and an offline (inverse-propensity) evaluation of its policy."""
        get_profile(self.profiles, profile)
        rt = self.runtimes[profile]
        logs = await asyncio.to_thread(bandit_repo.feedback_logs, self.engine, profile)
        state = rt.router.state
        with rt.router.lock:
            evaluation = off_policy_evaluation(logs, state)
            weights = state.weights()
        return {
            "profile": profile, "version": rt.router.version, "base": state.base, "arms": state.arms,
            "members": {a: rt.profile.router.arms[a] for a in state.arms}, "alpha": state.alpha,
            "epsilon": state.epsilon, "updates": state.updates, "theta": weights,
            "context_features": list(CONTEXT),
            "offline_evaluation": {"source": "decisions with feedback (logged propensities)", **evaluation},
        }
