"""prepare: features from each event and its stream's state (causal: a row sees only points up to itself)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import DecisionContext
from graph.state import DecisionState
from models.batch_builder import build_batch


async def prepare(state: DecisionState, runtime: Runtime[DecisionContext]) -> dict[str, Any]:
    rt = runtime.context.runtime
    bundle = rt.bundle  # the batch keeps this bundle even if a reload swaps it meanwhile
    if rt.streams is not None:
        rt.streams.apply_pending(bundle)
    pre = {s: {"fit_version": st.fit.version if st.fit else None,
               "model_states": {**st.model_state, "_ranks": st.ranks, "_alarm": st.alarm}}
           for s, st in (rt.streams.get_many(sorted({e.stream or "default" for e in state["events"]})).items()
                         if rt.streams is not None else [])}
    batch, touched = build_batch(rt, bundle, state["events"], commit=True)
    return {"bundle": bundle, "batch": batch, "touched": touched, "pre_states": pre}
