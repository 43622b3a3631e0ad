"""prepare: features from each event and its stream's state (causal: a row sees only points up to itself)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.batching import build_batch
from graph.context import DecisionContext
from graph.state import DecisionState


async def prepare(state: DecisionState, runtime: Runtime[DecisionContext]) -> dict[str, Any]:
    rt = runtime.context.runtime
    bundle = rt.bundle  # the batch keeps this bundle even if a reload swaps it meanwhile
    if rt.streams is not None:
        rt.streams.apply_pending(bundle)
    batch, touched = build_batch(rt, bundle, state["events"], commit=True)
    return {"bundle": bundle, "batch": batch, "touched": touched}
