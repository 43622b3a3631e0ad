"""The review graph, one checkpointed thread per alert (thread id = alert id):
triage (attach the overseer's verdict) -> interrupt() for a person when the governor requires approval -> apply.

A thread paused at `await_review` lives in the checkpointer (SQLite file or PostgreSQL), so a restart loses
nothing: `POST /v1/alerts/{id}/review` resumes it with `Command(resume=verdict)`. An alert that needs no approval
ends after triage and waits in the queue; a person's verdict then runs the graph again with the verdict as input,
straight from triage to apply. Either way every verdict is applied by the same node."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from sqlalchemy import Engine

from core.domain import Alert, Explanation
from core.errors import NotFound
from store import alert_ops, alerts
from store.bandit_repo import feedback_for
from store.decisions import get_decision
from store.ids import now_iso

VERDICTS = ("confirmed", "dismissed", "duplicate")
OUTCOMES = {"confirmed": 1.0, "dismissed": 0.0}  # duplicate: no label (the original alert carries it)
DISAGREEING_EFFECTS = {"escalate_review": "asks for human review",
                       "annotate_false_positive": "calls it a likely false positive"}


@dataclass
class ReviewContext:
    """What the nodes get through `runtime.context` (not checkpointed)."""

    engine: Engine
    label_limit: int  # at most this many of an alert's decisions are labelled by its verdict
    # studio.feedback.FeedbackService.record: labels a decision and rewards the router arm it logged
    record_feedback: Callable[..., Awaitable[dict[str, Any]]]
    on_resolved: Callable[[Alert, str], Awaitable[None]]  # (the resolved alert, verdict)


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


def overseer_view(explanation: Explanation, decision_id: str) -> dict[str, Any] | None:
    """The overseer's verdict on the alert's latest decision, if it gave one."""
    verdict = explanation.get("verdict")
    if not verdict:
        return None
    out = {k: verdict.get(k) for k in ("verdict", "confidence", "effect", "trusted_models", "requested_action",
                                       "rationale")}
    out["decision_id"] = decision_id
    return out


async def triage(state: ReviewState, runtime: Runtime[ReviewContext]) -> dict[str, Any]:
    """The facts a reviewer needs, from the alert and its latest decision, recorded on the alert."""
    engine, alert_id = runtime.context.engine, state["alert_id"]
    row = await asyncio.to_thread(alerts.get, engine, alert_id)
    if row is None:
        raise NotFound(f"no alert {alert_id!r}")
    d = await asyncio.to_thread(get_decision, engine, row["last_decision_id"])
    exp: Explanation = d["explanation"] if d is not None else {}
    overseer = overseer_view(exp, row["last_decision_id"])
    facts = {"alert_id": alert_id, "decision_id": row["first_decision_id"],
             "last_decision_id": row["last_decision_id"], "action": row["action"], "severity": row["severity"],
             "rule": row["rule"], "decision_count": row["decision_count"],
             "explanation_status": exp.get("status"), "overseer": overseer,
             "reasons": approval_reasons(row["action"], overseer), "at": now_iso()}
    await asyncio.to_thread(alert_ops.record_triage, engine, alert_id, triage=facts,
                            approval_required=bool(facts["reasons"]), actor="review")
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
    ctx, alert_id, facts = runtime.context, state["alert_id"], state.get("triage") or {}
    outcome = OUTCOMES.get(verdict["verdict"])
    ids = await asyncio.to_thread(alerts.decision_ids, ctx.engine, alert_id, ctx.label_limit)
    labels = await _label(ctx, alert_id, verdict, outcome, ids) if outcome is not None else []
    review = {"verdict": verdict["verdict"], "outcome": outcome, "decision_ids": ids, "labels": labels,
              "approval_required": bool(facts.get("reasons")), "reasons": facts.get("reasons", []),
              "overseer_verdict": (facts.get("overseer") or {}).get("verdict"), "reviewed_at": verdict["at"]}
    row = await asyncio.to_thread(alert_ops.resolve, ctx.engine, alert_id, resolution=verdict["verdict"],
                                  actor=verdict["reviewer"], note=verdict.get("note") or "",
                                  duplicate_of=verdict.get("duplicate_of"), review=review)
    await ctx.on_resolved(row, verdict["verdict"])
    return {"result": {"alert_id": alert_id, "state": row["state"], "resolution": row["resolution"],
                       "resolved_by": row["resolved_by"], "resolved_at": row["resolved_at"], **review}}


async def _label(ctx: ReviewContext, alert_id: str, verdict: dict[str, Any], outcome: float,
                 ids: list[str]) -> list[dict[str, Any]]:
    """Label the alert's decisions with the verdict's outcome; a retried apply skips the decisions an earlier
    attempt labelled (their feedback notes carry the alert's id)."""
    tag, labels = f"alert {alert_id}", []
    for decision_id in ids:
        done = await asyncio.to_thread(feedback_for, ctx.engine, decision_id)
        if any(f["source"] == "review" and f["note"].startswith(tag) for f in done):
            continue
        fb = await ctx.record_feedback(decision_id=decision_id, outcome=outcome, source="review",
                                       actor=verdict["reviewer"],
                                       note=f"{tag}: {verdict.get('note') or verdict['verdict']}"[:1000])
        labels.append({"decision_id": decision_id, "feedback_id": fb["feedback_id"], "arm": fb["arm"],
                       "reward": fb["reward"]})
    return labels


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
