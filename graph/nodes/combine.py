"""combine: the chosen arm's score (meta-classifier probability or the trusted models' calibrated mean),
a severity index and the disagreement among the trusted models."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from langgraph.runtime import Runtime

from graph.context import DecisionContext
from graph.nodes.route import arm_members, trusted_models
from graph.state import DecisionState, ToolResult
from policies.governor import severity_from_score


def meta_vector(inputs: list[str], outputs: dict[str, ToolResult], quantities: dict[str, Any], i: int) -> list[float]:
    """The meta-classifier's inputs: classifier probabilities (raw), other models' calibrated scores, math."""
    row = []
    for name in inputs:
        r = outputs.get(name)
        if r is not None:
            ok = r.status == "ok" and r.scores is not None and bool(r.scores.ready[i])
            value = (r.scores.raw[i] if r.family == "classifier" else r.scores.score[i]) if ok else math.nan
            row.append(float(value))
        else:
            value = quantities.get(name, math.nan)
            row.append(float(value) if isinstance(value, (int, float)) else math.nan)
    return row


async def combine(state: DecisionState, runtime: Runtime[DecisionContext]) -> dict[str, Any]:
    rt = runtime.context.runtime
    outputs, routes, slm, bundle = state["outputs"], state["routes"], state["slm"], state["bundle"]
    n = len(state["events"])
    meta_rows: list[int] = []
    combined: list[dict[str, Any]] = []
    for i in range(n):
        members = arm_members(rt, routes[i]["arm"])
        trusted = trusted_models(members, outputs, i)
        if "meta" in members and bundle.meta is not None:
            trusted = trusted_models(["classifier", "detector", "forecaster"], outputs, i)
            meta_rows.append(i)
            method = "meta"
        else:
            method = "mean_of_trusted"
        scores = [float(outputs[m].scores.score[i]) for m in trusted]
        p = float(np.mean(scores)) if scores else 0.0
        spread = float(np.std(scores)) * 2.0 if len(scores) >= 2 else 0.0
        combined.append({"score": p, "method": method, "trusted": trusted, "disagreement": round(spread, 4)})
    if meta_rows:
        inputs = bundle.pipeline.meta_inputs
        Z = np.array([meta_vector(inputs, outputs, slm[i].quantities, i) for i in meta_rows], dtype=float)
        probs = bundle.meta.predict(Z)
        for i, p in zip(meta_rows, probs.tolist(), strict=True):
            combined[i]["score"] = float(min(max(p, 0.0), 1.0))
    for c in combined:
        c["score"] = round(c["score"], 6)
        c["severity"] = severity_from_score(c["score"])
    return {"combined": combined}
