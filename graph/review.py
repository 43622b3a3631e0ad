"""The review graph, one checkpointed thread per alert (thread id = alert id):
triage (attach the overseer's verdict) -> interrupt() for a person when the governor requires approval -> apply.

A thread paused at `await_review` lives in the checkpointer (SQLite file or PostgreSQL), so a restart loses
nothing: `POST /v1/alerts/{id}/review` resumes it with `Command(resume=verdict)`. An alert that needs no approval
ends after triage and waits in the queue; a person's verdict then runs the graph again with the verdict as input,
straight from triage to apply. Either way every verdict is applied by the same node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

VERDICTS = ("confirmed", "dismissed", "duplicate")
DISAGREEING_EFFECTS = {"escalate_review": "asks for human review",
                       "annotate_false_positive": "calls it a likely false positive"}


@dataclass
class ReviewContext:
    """What the nodes get through `runtime.context` (not checkpointed)."""

    service: Any  # studio.review.ReviewService: triage facts and applying a verdict


class ReviewState(TypedDict, total=False):
    alert_id: str
    triage: dict[str, Any]
    approval_required: bool
    verdict: dict[str, Any] | None  # {"verdict", "note", "reviewer", "duplicate_of"}
    result: dict[str, Any] | None


def approval_reasons(action: str, overseer: dict[str, Any] | None) -> list[str]:
    """When the governor requires a person's approval before a verdict is applied."""
    reasons = []
    if action == "critical":
        reasons.append("critical: the governor requires a person's approval")
    if action == "review":
        reasons.append("the governor abstained (review): a person must decide")
    effect = (overseer or {}).get("effect")
    if effect in DISAGREEING_EFFECTS:
        reasons.append(f"the overseer {DISAGREEING_EFFECTS[effect]} while the models set {action}")
    return reasons


async def triage(state: ReviewState, runtime: Runtime[ReviewContext]) -> dict[str, Any]:
    facts = await runtime.context.service.triage_facts(state["alert_id"])
    return {"triage": facts, "approval_required": bool(facts["reasons"])}


def after_triage(state: ReviewState) -> Literal["await_review", "apply", "__end__"]:
    if state.get("approval_required"):
        return "await_review"
    return "apply" if state.get("verdict") else "__end__"


async def await_review(state: ReviewState, runtime: Runtime[ReviewContext]) -> dict[str, Any]:
    """The one human step: pause until a reviewer answers (the answer is the resume value)."""
    t = state["triage"]
    answer = interrupt({"alert_id": state["alert_id"], "question": "confirm, dismiss (false positive) or duplicate?",
                        "choices": list(VERDICTS), "reasons": t.get("reasons", []), "action": t.get("action"),
                        "severity": t.get("severity"), "overseer": t.get("overseer")})
    return {"verdict": answer}


async def apply(state: ReviewState, runtime: Runtime[ReviewContext]) -> dict[str, Any]:
    """The verdict becomes labels and router rewards (confirmed 1, dismissed 0) and resolves the alert."""
    verdict = state.get("verdict")
    if not verdict or verdict.get("verdict") not in VERDICTS:
        raise ValueError(f"not a verdict: {verdict!r}")
    result = await runtime.context.service.apply_verdict(state["alert_id"], verdict, state.get("triage") or {})
    return {"result": result}


def build_review_graph(checkpointer: Any) -> Any:
    g = StateGraph(ReviewState, context_schema=ReviewContext)
    g.add_node("triage", triage)
    g.add_node("await_review", await_review)
    g.add_node("apply", apply)
    g.add_edge(START, "triage")
    g.add_conditional_edges("triage", after_triage)
    g.add_edge("await_review", "apply")
    g.add_edge("apply", END)
    return g.compile(checkpointer=checkpointer, name="review")
