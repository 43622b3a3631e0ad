"""combine: the router picks an arm per event (graph/nodes/route.py), then the chosen arm's score
(meta-classifier probability or the trusted models' calibrated mean), a severity index and the disagreement
among the trusted models. A profile with a fixed `combine` (e.g. ops: the max of its members' calibrated
scores) takes its score from that instead; the router's choice is still logged (offline evaluation, feedback)
but cannot change the score. One node: a graph step costs about 0.7 ms whatever it does."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from langgraph.runtime import Runtime

from graph.context import DecisionContext
from graph.nodes.route import route
from graph.state import DecisionState
from graph.table import ScoreTable
from policies.combination import max_and_consensus
from policies.governor import severity_from_score

ALL_FAMILIES = ["classifier", "detector", "forecaster"]


def meta_matrix(inputs: list[str], table: ScoreTable, quantities: list[dict[str, Any]], rows: np.ndarray) -> np.ndarray:
    """The meta-classifier's inputs: classifier probabilities (raw), other models' calibrated scores, math."""
    Z = np.full((rows.size, len(inputs)), np.nan)
    for k, name in enumerate(inputs):
        j = table.column(name)
        if j is not None:
            Z[:, k] = (table.raw if table.families[j] == "classifier" else table.score)[rows, j]
        else:
            for r, i in enumerate(rows):
                v = quantities[i].get(name, math.nan)
                Z[r, k] = float(v) if isinstance(v, (int, float)) else math.nan
    return Z


async def combine(state: DecisionState, runtime: Runtime[DecisionContext]) -> dict[str, Any]:
    rt = runtime.context.runtime
    routed = route(state, runtime.context)
    arms = [r["arm"] for r in routed["routes"]]
    return {**routed, "combined": combine_rows(rt.profile, state["bundle"], routed["table"], arms,
                                               [s.quantities for s in state["slm"]])}


def fixed_combination(spec: Any, table: ScoreTable) -> tuple[np.ndarray, np.ndarray]:
    """(score per row, columns used): the max of the members' calibrated scores and, when configured, of the
    consensus: the k-th highest score among its members with 1 - score multiplied by 10 ** discount."""
    cols = table.mask(spec.members)
    answered = np.where(table.ready, table.score, np.nan)
    if spec.consensus is None:
        return max_and_consensus(answered[:, cols]), cols
    ccols = table.mask(spec.consensus.members)
    score = max_and_consensus(answered[:, cols], answered[:, ccols], k=spec.consensus.k,
                              discount=spec.consensus.discount)
    return score, cols | ccols


def combine_rows(profile: Any, bundle: Any, table: ScoreTable, arms: list[str],
                 quantities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Score, severity, trusted models and disagreement of each row under the arm chosen for it."""
    n = len(arms)
    score = np.zeros(n)
    spread = np.zeros(n)
    method = ["mean_of_trusted"] * n
    trusted_cols = np.zeros((n, len(table.names)), dtype=bool)
    arm_of = np.array(arms)
    for arm in set(arms):
        rows = np.where(arm_of == arm)[0]
        members = profile.router.arms[arm]
        use_meta = "meta" in members and bundle.meta is not None and bool(table.ready[rows].any())
        cols = table.mask(ALL_FAMILIES if use_meta else members)
        trusted_cols[rows] = table.ready[rows] & cols
        spread[rows] = table.row_spread(cols)[rows]
        if use_meta:
            Z = meta_matrix(bundle.pipeline.meta_inputs, table, quantities, rows)
            score[rows] = np.clip(bundle.meta.predict(Z), 0.0, 1.0)
            for i in rows:
                method[i] = "meta"
        else:
            score[rows] = np.nan_to_num(table.row_mean(cols)[rows], nan=0.0)
    if profile.combine is not None:  # fixed: the router's arm does not change the score
        score, cols = fixed_combination(profile.combine, table)
        spread = table.row_spread(cols, floor=profile.thresholds.watch)  # see ScoreTable.row_spread
        trusted_cols = table.ready & cols
        method = [f"{profile.combine.method}_of_members"] * n
    patterns = list(map(tuple, trusted_cols.tolist()))
    trusted = {p: [name for name, t in zip(table.names, p, strict=True) if t]  # a batch has a handful of sets
               for p in set(patterns)}
    combined = []
    for x, m, pattern, d in zip(score.tolist(), method, patterns, spread.tolist(), strict=True):
        s = round(x, 6)
        combined.append({"score": s, "method": m, "severity": severity_from_score(s), "trusted": list(trusted[pattern]),
                         "disagreement": round(d, 4)})
    return combined
