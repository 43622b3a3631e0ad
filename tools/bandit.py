"""The router as a tool: how a decision was routed, and which arm the router would pick for it now."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from store.decisions import get_decision
from tools.base import StudioTool


class RouteArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision_id: str | None = Field(None, description="explain the routing of this decision; omit for the state")


def router_tool(rt: Any, engine: Any) -> StudioTool:
    name = rt.profile.name

    async def call(decision_id: str | None = None) -> dict[str, Any]:
        state = rt.router.state
        with rt.router.lock:
            summary = {"profile": name, "version": rt.router.version, "arms": {a: rt.profile.router.arms[a]
                                                                                for a in state.arms},
                       "epsilon": state.epsilon, "updates": state.updates}
            if decision_id is None:
                return summary
        d = await asyncio.to_thread(get_decision, engine, decision_id)
        if d is None or d["profile"] != name:
            return {"error": f"no {name} decision {decision_id}"}
        x = np.asarray(d["router"]["context"], dtype=float)
        with rt.router.lock:
            now = {a: round(v, 4) for a, v in state.ucb(x).items()}
            greedy = state.greedy(x)
        return {**summary, "decision_id": decision_id, "logged": {k: d["router"][k] for k in
                                                                  ("arm", "propensity", "explored", "ucb", "context")},
                "ucb_now": now, "would_choose_now": greedy}

    return StudioTool(f"{name}_router", f"The contextual-bandit router of profile '{name}': its arms and state, or "
                      "for a decision id, the arm it logged (with propensity and context) and the arm it would "
                      "choose now.", RouteArgs, call)
