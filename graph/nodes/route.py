"""Routing (the first half of the combine node): the contextual-bandit router picks, per event, which models
to trust; exploration only when calm."""

from __future__ import annotations

from typing import Any

import numpy as np

from graph.context import DecisionContext
from graph.state import DecisionState
from graph.table import ScoreTable
from models.bandit import context_matrix
from policies.governor import exploration_allowed, severity_from_score


def contexts(rt: Any, batch: Any, table: ScoreTable) -> np.ndarray:
    """Regime features of every event: volatility, novelty (detectors), forecast error, drift, time of day."""
    fam = np.array(table.families)
    return context_matrix(
        X=batch.X, feature_names=batch.feature_names, ts=batch.ts,
        peg_scaled=rt.profile.is_stream and rt.profile.features.normalize == "peg",
        novelty=np.nan_to_num(table.row_mean(fam == "detector"), nan=0.0),
        forecast_error=np.nan_to_num(table.row_mean(fam == "forecaster", table.raw), nan=0.0))


def available_arms(profile: Any, arms: list[str], bundle: Any, table: ScoreTable) -> np.ndarray:
    """rows x arms: an arm is available when one of its models answered (meta: any model, and a meta model)."""
    return np.column_stack([
        table.ready.any(axis=1) & (bundle.meta is not None) if a == "meta"
        else (table.ready[:, table.mask(profile.router.arms[a])]).any(axis=1) for a in arms])


def route(state: DecisionState, ctx: DecisionContext) -> dict[str, Any]:
    """{"routes": the arm (with propensity and context) chosen for each event, "table": the batch's scores}."""
    rt = ctx.runtime
    batch, slm, bundle = state["batch"], state["slm"], state["bundle"]
    table = ScoreTable.build(state["outputs"], len(batch))
    router = rt.router
    arms = router.state.arms
    X = contexts(rt, batch, table)
    overall = np.nan_to_num(table.row_mean(np.ones(len(table.names), dtype=bool)), nan=0.0)
    explore = np.array([ctx.explore and exploration_allowed(severity_from_score(float(overall[i])),
                                                                        slm[i].fired, rt.profile.thresholds)
                        for i in range(len(batch))], dtype=bool)
    available = available_arms(rt.profile, arms, bundle, table)
    with router.lock:
        choices = router.state.choose_many(X, router.rng, explore, available)
    routes = [{"arm": c.arm, "propensity": round(c.propensity, 6), "explored": c.explored,
               "exploration_allowed": bool(explore[i]), "ucb": c.ucb, "context": c.context,
               "router_version": router.version} for i, c in enumerate(choices)]
    return {"routes": routes, "table": table}
