"""SLM tools: Math, SQL and Policy, as one chain for the graph and as separate tools for agents."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from core.events import Event
from models.base import ScoringBatch
from models.batch_builder import build_batch
from policies.slm.math import math_signals, stream_math, tabular_math
from policies.slm.policy import evaluate_rules
from tools.base import StudioTool
from tools.models import ScoreEventsArgs, to_events
from tools.results import SlmResult


def _watch_items(event: Event, context_fields: list[str]) -> list[tuple[str, str]]:
    items = [(k, str(event.context[k])) for k in context_fields if event.context.get(k) not in (None, "")]
    if event.stream:
        items.append(("stream", event.stream))
    return items


def run_slms(rt: Any, events: list[Event], batch: ScoringBatch, lookups: Any) -> list[SlmResult]:
    """Math (quantities and limit signals) -> SQL (watch-lists, baselines) -> Policy (rules) for each event."""
    profile, pack = rt.profile, rt.pack
    baselines: list[Any] = []
    if profile.is_stream:
        assert batch.values is not None and batch.prev is not None
        assert batch.win_mean is not None and batch.win_std is not None
        known = {s: lookups.baseline(profile.name, s) if lookups else None for s in {e.stream for e in events}}
        baselines = [known[e.stream] for e in events]
        full = batch.seen >= batch.min_seen if batch.seen is not None else None
        quantities = stream_math(profile, pack, batch.values, batch.prev, baselines, batch.win_mean, batch.win_std,
                                 full)
        fields = [dict(e.features) for e in events]
    else:
        fields = [dict(zip(batch.feature_names, row, strict=True)) for row in batch.X.tolist()]
        quantities = tabular_math(pack, fields)
    out = []
    rules = pack.compiled
    matched: dict[tuple[tuple[str, str], ...], list[dict[str, Any]]] = {}  # a batch repeats its few items
    for i, event in enumerate(events):
        q = quantities[i]
        signals = math_signals(pack, q)
        items = tuple(_watch_items(event, profile.context_fields))
        if items not in matched:
            matched[items] = lookups.watchlist_hits(profile.name, list(items)) if lookups else []
        hits = list(matched[items])
        signals.append({"slm": "sql", "name": "watchlisted", "value": bool(hits), "fired": bool(hits),
                        "matches": hits})
        if profile.is_stream and "baseline_mean" in q:
            signals.append({"slm": "sql", "name": "baseline", "value": round(q["baseline_mean"], 6),
                            "std": round(q["baseline_std"], 6), "fired": False,
                            "source": "stream_baselines" if baselines[i] else "recent_window"})
        namespace = {**{k: v for k, v in event.context.items() if isinstance(v, (str, int, float, bool))},
                     **fields[i], **q, "watchlisted": bool(hits), "stream": event.stream, "profile": profile.name}
        fired, errors = evaluate_rules(pack, namespace, rules)
        for r in fired:
            signals.append({"slm": "policy", "name": r["rule"], "value": r["action"], "fired": True,
                            "values": r["values"], "hard": r["hard"]})
        out.append(SlmResult(quantities=q, signals=signals, fired=fired, rule_errors=errors, watchlist=hits))
    return out


class WatchlistArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[tuple[str, str]] = Field(..., min_length=1, max_length=50,
                                         description="(kind, value) pairs, e.g. ['token', 'USDC']")


def slm_tools(rt: Any, lookups: Any) -> list[StudioTool]:
    """math, sql and policy tools of one profile (read-only; they never change a stream)."""
    name = rt.profile.name

    async def _chain(events: list[dict[str, Any]]) -> list[SlmResult]:
        evs = to_events(name, rt.profile, events)
        batch, _ = build_batch(rt, rt.bundle, evs, commit=False)
        return run_slms(rt, evs, batch, lookups)

    async def math_call(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"quantities": {k: _num(v) for k, v in r.quantities.items()},
                 "signals": [s for s in r.signals if s["slm"] == "math"]} for r in await _chain(events)]

    async def policy_call(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"fired": r.fired, "errors": r.rule_errors} for r in await _chain(events)]

    async def sql_call(items: list[tuple[str, str]]) -> dict[str, Any]:
        return {"watchlist": lookups.watchlist_hits(name, [tuple(i) for i in items]) if lookups else []}

    return [
        StudioTool(f"{name}_math", f"Math SLM of profile '{name}': peg deviation, rate of change, z-score against "
                   "the baseline and derived ratios per event, with the limits they crossed.", ScoreEventsArgs,
                   math_call),
        StudioTool(f"{name}_policy", f"Policy SLM of profile '{name}': which rules of the '{rt.pack.pack}' rule "
                   "pack fire for each event, and the values that fired them.", ScoreEventsArgs, policy_call),
        StudioTool(f"{name}_sql_watchlist", f"SQL SLM of profile '{name}': active watch-list entries matching "
                   "(kind, value) pairs such as ('token', 'USDC').", WatchlistArgs, sql_call),
    ]


def _num(v: Any) -> Any:
    return round(float(v), 6) if isinstance(v, (float, np.floating)) else v
