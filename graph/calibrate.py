"""Causal calibration of the fan-out's answers (profiles with `features.calibration: causal`), shared by the
decision graph and decision replay."""

from __future__ import annotations

from typing import Any

import numpy as np

from models.online_rank import OnlineRank
from models.sequential import rows_by_stream
from tools.results import ToolResult


def rank_causally(outputs: dict[str, ToolResult], batch: Any, bundle: Any) -> None:
    """Causal calibration (profiles with `calibration: causal`): each model's score becomes its rank among the
    stream's earlier scores of that model, with the model's training ECDF (mid-ranks) as the prior, point by
    point in arrival order. The histories live in the stream state, replaced (never changed in place) so a
    failed batch can be undone."""
    answered: dict[str, tuple[Any, np.ndarray]] = {}  # name -> (its ModelScores, its prior per row)
    for name, res in outputs.items():
        if res.status == "ok" and res.scores is not None:
            cal = getattr(bundle.models.get(name), "calibrator_", None)
            mid = getattr(cal, "transform_mid", None)
            answered[name] = (res.scores, mid(res.scores.raw) if mid is not None else res.scores.score)
    for stream, rows in rows_by_stream(batch.streams).items():
        st = batch.states[stream]
        ranks = dict(st.ranks)
        for name, (scores, prior) in answered.items():
            ready = rows[scores.ready[rows]]
            if ready.size == 0:
                continue
            hist = OnlineRank.from_json(ranks.get(name))
            scores.score[ready] = hist.rank_and_add(prior[ready])
            ranks[name] = hist.to_json()
        st.ranks = ranks
