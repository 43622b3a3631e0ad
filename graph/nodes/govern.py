"""govern: the deterministic governor rules on each event."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import DecisionContext
from graph.state import DecisionState
from policies.governor import govern as rule


async def govern(state: DecisionState, runtime: Runtime[DecisionContext]) -> dict[str, Any]:
    rt = runtime.context.runtime
    combined, slm, table = state["combined"], state["slm"], state["table"]
    expected = len(rt.profile.models.all())
    answered = table.ready.sum(axis=1)
    warming = table.warming.sum(axis=1)
    rulings = [rule(score=c["score"], disagreement=c["disagreement"], thresholds=rt.profile.thresholds,
                    fired_rules=slm[i].fired, answered=int(answered[i]), expected=expected - int(warming[i]))
               for i, c in enumerate(combined)]
    return {"rulings": rulings}
