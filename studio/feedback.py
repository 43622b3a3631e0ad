"""Feedback: an outcome labels a decision and rewards the router arm it logged (one transaction, audited)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Engine

from core.errors import NotFound, ValidationFailed
from graph.context import ProfileRuntime
from models.router import reward
from store import router_repo
from store.decisions import get_decision
from store.engine import write_tx


class Studio(Protocol):
    """What feedback uses of the composition root: the database and each served profile's runtime."""

    engine: Engine
    runtimes: dict[str, ProfileRuntime]


def _apply(studio: Studio, decision_id: str, outcome: float, source: str, actor: str, note: str) -> dict[str, Any]:
    d = get_decision(studio.engine, decision_id)
    if d is None:
        raise NotFound(f"no decision {decision_id!r}")
    rt = studio.runtimes.get(d["profile"])
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
        with write_tx(studio.engine) as conn:
            fid = router_repo.record_feedback(conn, {
                "decision_id": decision_id, "profile": d["profile"], "outcome": outcome, "source": source,
                "actor": actor, "note": note, "arm": arm, "propensity": prop, "reward": r,
                "router_version": d["router"].get("router_version", "")})
            version = None
            if learned:
                version = router_repo.save_state(conn, d["profile"], snapshot, reason=f"feedback {fid}",
                                                 updates=router.state.updates, actor=actor)
        if version is not None:
            router.version = f"r{version}"
    return {"feedback_id": fid, "decision_id": decision_id, "profile": d["profile"], "outcome": outcome,
            "arm": arm, "propensity": prop, "reward": round(r, 6), "router_version": router.version,
            "router_learned": learned}


async def record(studio: Studio, *, decision_id: str, outcome: float, source: str = "api", actor: str = "api",
                 note: str = "") -> dict[str, Any]:
    """Label a decision with its outcome (1 = incident, 0 = normal) and teach the router."""
    if not 0.0 <= outcome <= 1.0:
        raise ValidationFailed("outcome must be between 0 (normal) and 1 (incident)")
    return await asyncio.to_thread(_apply, studio, decision_id, outcome, source, actor, note)
