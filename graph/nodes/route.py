"""route: the contextual-bandit router picks, per event, which models to trust; exploration only when calm."""

from __future__ import annotations

from typing import Any

import numpy as np
from langgraph.runtime import Runtime

from graph.context import DecisionContext
from graph.state import DecisionState, ToolResult
from models.router import regime_context
from policies.governor import exploration_allowed, severity_from_score


def arm_members(rt: Any, arm: str) -> list[str]:
    return rt.profile.router.arms[arm]


def trusted_models(members: list[str], outputs: dict[str, ToolResult], i: int) -> list[str]:
    return [name for name, r in outputs.items()
            if r.status == "ok" and r.scores is not None and bool(r.scores.ready[i])
            and (name in members or r.family in members)]


def context_for(rt: Any, batch: Any, outputs: dict[str, ToolResult], i: int) -> np.ndarray:
    """Regime features of event i: volatility, novelty (detectors), forecast error, drift, time of day."""
    det = [r.scores.score[i] for r in outputs.values() if r.family == "detector" and r.status == "ok"
           and r.scores is not None and r.scores.ready[i]]
    fc = [r.scores.raw[i] for r in outputs.values() if r.family == "forecaster" and r.status == "ok"
          and r.scores is not None and r.scores.ready[i]]
    names = batch.feature_names
    scale = 100.0 if rt.profile.is_stream and rt.profile.features.normalize == "peg" else 1.0
    vol = float(batch.X[i, names.index("roll_std")]) * scale if "roll_std" in names else 0.0
    drift = abs(float(batch.X[i, names.index("roll_mean")])) * scale if "roll_mean" in names else (
        abs(float(batch.X[i, names.index("level")])) * scale if "level" in names else 0.0)
    ts = float(batch.ts[i]) if batch.ts is not None else None
    return regime_context(volatility=vol, novelty=float(np.mean(det)) if det else 0.0,
                          forecast_error=float(np.mean(fc)) if fc else 0.0, drift=drift, ts=ts)


async def route(state: DecisionState, runtime: Runtime[DecisionContext]) -> dict[str, Any]:
    rt = runtime.context.runtime
    outputs, batch, slm = state["outputs"], state["batch"], state["slm"]
    bundle = state["bundle"]
    router = rt.router
    routes = []
    for i in range(len(state["events"])):
        x = context_for(rt, batch, outputs, i)
        ready = [r.scores.score[i] for r in outputs.values() if r.status == "ok" and r.scores is not None
                 and r.scores.ready[i]]
        provisional = severity_from_score(float(np.mean(ready)) if ready else 0.0)
        explore = runtime.context.explore and exploration_allowed(provisional, slm[i].fired, rt.profile.thresholds)
        available = [a for a in router.state.arms
                     if (a == "meta" and bundle.meta is not None)
                     or (a != "meta" and trusted_models(arm_members(rt, a), outputs, i))]
        with router.lock:
            choice = router.state.choose(x, router.rng, explore=explore, available=available)
        routes.append({"arm": choice.arm, "propensity": round(choice.propensity, 6), "explored": choice.explored,
                       "exploration_allowed": explore, "ucb": choice.ucb, "context": choice.context,
                       "router_version": router.version})
    return {"routes": routes}
