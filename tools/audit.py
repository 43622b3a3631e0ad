"""Audit look-up tools (read-only): a decision's evidence, and audit events by subject, actor or action."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field

from core.domain import AuditEvent
from store.audit_queries import list_events
from store.decisions import get_decision
from tools.base import StudioTool


class DecisionArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision_id: str = Field(..., min_length=4, max_length=64, description="a decision id such as dec_01H...")


class AuditArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_id: str | None = Field(None, description="e.g. a decision id or 'peg/random_forest'")
    action: str | None = Field(None, description="e.g. decision.recorded, model.activated, or a prefix like model.*")
    actor: str | None = None
    since: str | None = Field(None, description="ISO-8601 UTC lower bound on the event time")
    until: str | None = Field(None, description="ISO-8601 UTC upper bound (exclusive)")
    limit: int = Field(20, ge=1, le=100)


def audit_tools(engine: Any) -> list[StudioTool]:
    async def decision(decision_id: str) -> dict[str, Any]:
        d = await asyncio.to_thread(get_decision, engine, decision_id)
        if d is None:
            return {"error": f"no decision {decision_id}"}
        keep = ("id", "created_at", "profile", "stream", "inputs", "label", "severity", "score", "action",
                "disagreement", "models", "router", "rules", "governor", "model_versions")
        fields = cast("dict[str, Any]", d)
        return {k: fields[k] for k in keep}

    async def events(subject_id: str | None = None, action: str | None = None, actor: str | None = None,
                     since: str | None = None, until: str | None = None, limit: int = 20) -> list[AuditEvent]:
        return await asyncio.to_thread(list_events, engine, subject_id=subject_id, action=action, actor=actor,
                                       since=since, until=until, limit=limit, descending=True)

    return [
        StudioTool("audit_decision", "Look up one decision by id: its inputs, every model's output and version, "
                   "the router's arm, the rules that fired and the governor's actions.", DecisionArgs, decision),
        StudioTool("audit_events", "Audit trail events (newest first) filtered by subject id, action, actor and "
                   "time range; each has its sequence number and hash.", AuditArgs, events),
    ]
