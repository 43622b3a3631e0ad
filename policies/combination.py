"""The fixed combination of calibrated scores (profile `combine`), as arrays: shared by the decision graph and
`bench.nab`, which re-runs it offline on the replay's per-model columns."""

from __future__ import annotations

import numpy as np


def max_and_consensus(members: np.ndarray, consensus: np.ndarray | None = None, *, k: int = 1,
                      discount: float = 0.0) -> np.ndarray:
    """Per row: the max of the members' scores (rows x members, NaN = no answer) and, when given, the k-th
    highest consensus score with 1 - score multiplied by 10 ** discount (0 with fewer than k answers)."""
    m = np.where(np.isnan(members), -np.inf, members)
    score = m.max(axis=1) if m.shape[1] else np.full(m.shape[0], -np.inf)
    score = np.where(np.isfinite(score), score, 0.0)
    if consensus is not None and consensus.shape[1] >= k:
        c = np.where(np.isnan(consensus), -np.inf, consensus)
        kth = -np.partition(-c, k - 1, axis=1)[:, k - 1]
        kth = np.where(np.isfinite(kth), kth, 0.0)
        score = np.maximum(score, np.clip(1.0 - (1.0 - kth) * 10.0 ** discount, 0.0, 1.0))
    return score
