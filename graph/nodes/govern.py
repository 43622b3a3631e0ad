"""govern: the deterministic governor rules on each event; the template narrator explains the ruling."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import DecisionContext
from graph.state import DecisionState
from policies.governor import govern as rule


async def govern(state: DecisionState, runtime: Runtime[DecisionContext]) -> dict[str, Any]:
    rt = runtime.context.runtime
    outputs, combined, slm = state["outputs"], state["combined"], state["slm"]
    expected = len(rt.profile.models.all())
    rulings = []
    for i, c in enumerate(combined):
        answered = sum(1 for r in outputs.values() if r.status == "ok" and r.scores is not None and r.scores.ready[i])
        warming = sum(1 for r in outputs.values() if r.status == "ok" and r.scores is not None
                      and not r.scores.ready[i])
        rulings.append(rule(score=c["score"], disagreement=c["disagreement"], thresholds=rt.profile.thresholds,
                            fired_rules=slm[i].fired, answered=answered, expected=expected - warming))
    return {"rulings": rulings}
