"""The overseer graph: gather evidence -> judge (when the governor asked) -> narrate -> validate -> persist.
Every LLM answer passes the governor's checks (policies/llm_checks.py); a failed check is re-asked once with
the reason, a second failure falls back to the template narrator. The LLM never has the last word."""

from __future__ import annotations

import asyncio
import operator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

import orjson
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from sqlalchemy import Engine

from core.domain import Decision
from graph.evidence import Pseudonymizer, build_evidence, evidence_json, facts_of
from graph.narrator import NOTICE as NO_LLM_NOTICE
from graph.narrator import narrate as template_text
from policies.llm_checks import Facts, check_narration, check_verdict, effect_of, failures
from policies.llm_schemas import Narration, Verdict
from prompts import Prompt
from store.audit import AuditRecord, sha256_text
from store.explanations import NOTICES, complete, stream_history
from store.ids import now_iso
from store.jobs import Lease, LeaseQueue

STAGES = {"judge": ("judge", Verdict), "narrate": ("explain", Narration)}
RAW_AUDIT_CHARS = 8000


@dataclass
class ExplanationContext:
    """What the overseer graph's nodes get through `runtime.context`."""

    provider: Any  # studio.llm.LlmProvider, or None: the template narrator is the provider
    prompts: dict[str, Prompt]
    engine: Engine
    queue: LeaseQueue
    lease: Lease
    known_models: frozenset[str]
    thresholds: dict[str, Any]
    history_limit: int = 50
    webhook_attempts: int = 6
    actor: str = "overseer"
    max_asks: int = 2


class ExplanationState(TypedDict, total=False):
    decision: Decision
    evidence: dict[str, Any]
    evidence_text: str
    event_data: str
    facts: Facts
    pseudo: Pseudonymizer
    stage: str  # judge | narrate | done | fallback
    asks: dict[str, int]
    feedback: dict[str, str]
    raw: str
    verdict: dict[str, Any] | None
    narration: dict[str, Any] | None
    proposals: Annotated[list[dict[str, Any]], operator.add]
    calls: Annotated[list[dict[str, Any]], operator.add]
    outcome: str  # overseer | overridden | no_llm
    explanation: dict[str, Any]
    completed: bool


async def gather(state: ExplanationState, runtime: Runtime[ExplanationContext]) -> dict[str, Any]:
    ctx, d = runtime.context, state["decision"]
    history = await asyncio.to_thread(stream_history, ctx.engine, d, ctx.history_limit) if ctx.history_limit else {}
    pseudo = Pseudonymizer()
    evidence, event_data = build_evidence(d, thresholds=ctx.thresholds, history=history, pseudo=pseudo)
    facts = facts_of(d, evidence, known_models=ctx.known_models, pseudo=pseudo)
    if ctx.provider is None:
        stage, outcome = "fallback", "no_llm"
    else:
        stage, outcome = ("judge" if d["governor"].get("ask_overseer") else "narrate"), "pending"
    return {"evidence": evidence, "evidence_text": evidence_json(evidence), "event_data": event_data,
            "facts": facts, "pseudo": pseudo, "stage": stage, "outcome": outcome, "asks": {}, "feedback": {},
            "verdict": None, "narration": None}


async def _ask(stage: str, state: ExplanationState, ctx: ExplanationContext) -> dict[str, Any]:
    prompt_name, schema = STAGES[stage]
    reason = state["feedback"].get(stage)
    feedback = ("\nThe governor rejected your previous answer: " + reason +
                "\nAnswer again, following the rules.") if reason else ""
    verdict = state.get("verdict")
    shown = {k: verdict[k] for k in ("verdict", "confidence", "trusted_models", "rationale")} if verdict else None
    system, user = ctx.prompts[prompt_name].render(
        profile=state["decision"]["profile"], decision_id=state["decision"]["id"], evidence=state["evidence_text"],
        event_data=state["event_data"], feedback=feedback, verdict=orjson.dumps(shown).decode())
    raw, call = await ctx.provider.structured(purpose=stage, system=system, user=user, schema=schema)
    asks = {**state["asks"], stage: state["asks"].get(stage, 0) + 1}
    return {"raw": raw, "asks": asks, "calls": [{**call.to_json(), "ask": asks[stage]}]}


async def judge(state: ExplanationState, runtime: Runtime[ExplanationContext]) -> dict[str, Any]:
    return await _ask("judge", state, runtime.context)


async def narrate(state: ExplanationState, runtime: Runtime[ExplanationContext]) -> dict[str, Any]:
    return await _ask("narrate", state, runtime.context)


async def validate(state: ExplanationState, runtime: Runtime[ExplanationContext]) -> dict[str, Any]:
    """The governor's checks on the answer just received; decides: next stage, re-ask, or fall back."""
    ctx, stage, raw = runtime.context, state["stage"], state["raw"]
    check = check_verdict if stage == "judge" else check_narration
    parsed, checks = check(raw, state["facts"])
    failed = failures(checks)
    proposal = {"stage": stage, "ask": state["asks"][stage], "prompt_version": ctx.prompts[STAGES[stage][0]].ref,
                "raw": raw[:RAW_AUDIT_CHARS], "checks": [c.to_json() for c in checks], "accepted": not failed}
    out: dict[str, Any] = {"proposals": [proposal]}
    if not failed and stage == "judge":
        assert isinstance(parsed, Verdict)
        out.update(verdict={**parsed.model_dump(), "effect": effect_of(parsed)}, stage="narrate")
    elif not failed:
        out.update(narration=parsed.model_dump() if parsed else None, stage="done", outcome="overseer")
    elif state["asks"][stage] < ctx.max_asks:
        out["feedback"] = {**state["feedback"], stage: "; ".join(f"{c.name}: {c.detail}" for c in failed)}
    else:
        out.update(stage="fallback", outcome="overridden")
    return out


def after_validate(state: ExplanationState) -> Literal["judge", "narrate", "fallback", "persist"]:
    stage = state["stage"]
    if stage == "done":
        return "persist"
    return stage  # type: ignore[return-value]


def after_gather(state: ExplanationState) -> Literal["judge", "narrate", "fallback"]:
    return state["stage"]  # type: ignore[return-value]


async def fallback(state: ExplanationState, runtime: Runtime[ExplanationContext]) -> dict[str, Any]:
    """The template narrator writes the text. A verdict is in the state only if it passed its checks, so a
    judge that failed twice leaves none; one that passed survives a narration that failed."""
    return {"narration": None}


def usage_totals(calls: list[dict[str, Any]]) -> dict[str, Any]:
    return {"calls": calls, "input_tokens": sum(c["input_tokens"] for c in calls),
            "output_tokens": sum(c["output_tokens"] for c in calls),
            "cost_usd": round(sum(c["cost_usd"] for c in calls), 6),
            "seconds": round(sum(c["seconds"] for c in calls), 4)}


def build_explanation(state: ExplanationState, ctx: ExplanationContext) -> dict[str, Any]:
    """What users see: pseudonyms restored, with the verdict, every check, prompt versions and usage."""
    d, pseudo, outcome = state["decision"], state["pseudo"], state["outcome"]
    verdict = state.get("verdict")
    if verdict is not None:
        verdict = {**verdict, "rationale": pseudo.restore(verdict["rationale"])}
    narration = state.get("narration")
    text = pseudo.restore(narration["text"]) if outcome == "overseer" and narration else template_text(d)
    asked = [s for s in ("judge", "narrate") if state.get("asks", {}).get(s)]
    return {
        "status": "ready", "provider": "overseer" if outcome == "overseer" else "template",
        "model": getattr(ctx.provider, "model", None), "text": text,
        "notice": {"overseer": NOTICES["overseer"], "overridden": NOTICES["overridden"]}.get(outcome, NO_LLM_NOTICE),
        "verdict": verdict, "cited_models": (narration or {}).get("cited_models", []),
        "checks": [{"stage": p["stage"], "ask": p["ask"], **c} for p in state.get("proposals", []) for c in p["checks"]],
        "governor_overrode_llm": outcome == "overridden",
        "prompt_versions": {STAGES[s][0]: ctx.prompts[STAGES[s][0]].ref for s in asked},
        "usage": usage_totals(state.get("calls", [])), "attempt": ctx.lease.attempt, "job_id": ctx.lease.id,
        "completed_at": now_iso(), "href": d["explanation"].get("href"),
        "stream_href": f"/v1/decisions/{d['id']}/explanation/stream",
    }


def audit_records(state: ExplanationState, ctx: ExplanationContext, exp: dict[str, Any]) -> list[AuditRecord]:
    d_id = state["decision"]["id"]
    base = {"decision_id": d_id, "job_id": ctx.lease.id, "job_attempt": ctx.lease.attempt}
    records = [AuditRecord(ctx.actor, "overseer.proposal", "decision", d_id, {**base, **p})
               for p in state.get("proposals", [])]
    verdict = exp["verdict"]
    records.append(AuditRecord(ctx.actor, "explanation.completed", "decision", d_id, {
        **base, "provider": exp["provider"], "model": exp["model"], "prompt_versions": exp["prompt_versions"],
        "governor_overrode_llm": exp["governor_overrode_llm"],
        "failed_checks": [c for c in exp["checks"] if not c["ok"]],
        "verdict": {k: verdict[k] for k in ("verdict", "confidence", "requested_action", "effect")} if verdict else None,
        "text_sha256": sha256_text(exp["text"]),
        "usage": {k: v for k, v in exp["usage"].items() if k != "calls"}}))
    return records


async def persist(state: ExplanationState, runtime: Runtime[ExplanationContext]) -> dict[str, Any]:
    """Explanation, audit events and webhook deliveries in one transaction, guarded by the job's lease."""
    ctx = runtime.context
    exp = build_explanation(state, ctx)
    ok = await asyncio.to_thread(complete, ctx.queue, ctx.lease, decision_id=state["decision"]["id"],
                                 explanation=exp, records=audit_records(state, ctx, exp),
                                 webhook_attempts=ctx.webhook_attempts)
    return {"explanation": exp, "completed": ok}


def build_explanation_graph() -> Any:
    """Compiled once; each job runs it with its own ExplanationContext."""
    g = StateGraph(ExplanationState, context_schema=ExplanationContext)
    for name, fn in (("gather", gather), ("judge", judge), ("narrate", narrate), ("validate", validate),
                     ("fallback", fallback), ("persist", persist)):
        g.add_node(name, fn)
    g.add_edge(START, "gather")
    g.add_conditional_edges("gather", after_gather)
    g.add_edge("judge", "validate")
    g.add_edge("narrate", "validate")
    g.add_conditional_edges("validate", after_validate)
    g.add_edge("fallback", "persist")
    g.add_edge("persist", END)
    return g.compile(name="explanation")
