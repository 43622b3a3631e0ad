"""govern: the deterministic governor rules on each event."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from core.domain import RuleFired
from graph.context import DecisionContext
from graph.state import DecisionState
from policies.governor import govern as rule


async def govern(state: DecisionState, runtime: Runtime[DecisionContext]) -> dict[str, Any]:
    rt = runtime.context.runtime
    return {"rulings": govern_rows(rt.profile, state["combined"], [s.fired for s in state["slm"]], state["table"],
                                   state.get("alarms"))}


def govern_rows(profile: Any, combined: list[dict[str, Any]], fired: list[list[RuleFired]],
                table: Any, alarms: list[bool] | None = None) -> list[Any]:
    expected = len(profile.models.all())
    answered = table.ready.sum(axis=1)
    warming = table.warming.sum(axis=1)
    return [rule(score=c["score"], disagreement=c["disagreement"], thresholds=profile.thresholds,
                 fired_rules=fired[i], answered=int(answered[i]), expected=expected - int(warming[i]),
                 alarm=None if alarms is None else alarms[i])
            for i, c in enumerate(combined)]
