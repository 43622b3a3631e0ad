"""Model tools: every model of a profile as a tool (batch fast path for the graph, event path for agents)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from core.events import Event, validate_event
from models.base import ModelScores, ScoringBatch
from models.batch_builder import build_batch
from models.bundle import ModelBundle
from policies.slm.math import check_probability
from tools.base import StudioTool
from tools.results import ToolResult


class EventArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stream: str | None = Field(None, description="stream name (stream profiles)")
    timestamp: float | None = Field(None, description="epoch seconds; default now")
    value: float | None = Field(None, description="the observation (stream profiles)")
    features: dict[str, float] = Field(default_factory=dict, description="named numeric fields")
    context: dict[str, Any] = Field(default_factory=dict, description="entity ids and other context")


class ScoreEventsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventArgs] = Field(..., min_length=1, max_length=50, description="events to score")


def to_events(profile_name: str, profile: Any, events: list[dict[str, Any]]) -> list[Event]:
    out = []
    for i, e in enumerate(events):
        ev = Event(profile=profile_name, stream=e.get("stream"), ts=e.get("timestamp"), value=e.get("value"),
                   features=dict(e.get("features") or {}), context=dict(e.get("context") or {}), index=i)
        out.append(validate_event(profile, ev))
    return out


def score_model(model: Any, batch: ScoringBatch) -> ModelScores:
    """Score and apply the physical-limit check: a calibrated output outside [0, 1] is rejected."""
    scores = model.score(batch)
    problem = check_probability(model.name, scores.score[scores.ready])
    if problem:
        raise ValueError(problem)
    return scores


def run_model(model: Any, version: str | None, batch: ScoringBatch) -> ToolResult:
    started, start = time.time_ns(), time.perf_counter()
    scores = score_model(model, batch)
    return ToolResult(name=model.name, version=version, family=model.family, status="ok", scores=scores,
                      started_ns=started,
                      latency_ms=(time.perf_counter() - start) * 1000)


def model_tool(rt: Any, name: str) -> StudioTool:
    """The tool for model `name` of the runtime's profile. The graph calls run_model() on a prepared batch;
    an agent calls the coroutine with raw events, scored without changing any stream."""
    profile = rt.profile

    async def call(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        bundle: ModelBundle = rt.bundle
        model = bundle.models.get(name)
        if model is None:
            return [{"error": f"model {name} is not loaded: {bundle.failures.get(name, 'unknown')}"}]
        evs = to_events(profile.name, profile, events)
        batch, _ = build_batch(rt, bundle, evs, commit=False)
        res = score_model(model, batch)
        return [{"model": name, "version": bundle.version_of(name), "score": round(float(s), 4),
                 "raw": round(float(r), 6), "ready": bool(ok)}
                for s, r, ok in zip(res.score, res.raw, res.ready, strict=True)]

    family = getattr(type(rt.bundle.models.get(name)), "family", "model")
    return StudioTool(
        name=f"{profile.name}_{name}",
        description=(f"Run the {family} '{name}' of profile '{profile.name}' on events; returns its calibrated "
                     "0..1 score per event (1 = most anomalous / most likely incident) and its raw output."),
        args_schema=ScoreEventsArgs,
        coroutine=call,
    )


def ready_mask(res: ToolResult, n: int) -> np.ndarray:
    if res.status != "ok" or res.scores is None:
        return np.zeros(n, dtype=bool)
    return res.scores.ready
