"""Causal calibration: each raw score ranked against what its own stream has shown before it.

A score of 0.999 means "rarer than 99.9% of this stream's earlier scores of this model". The profile's training
distribution (the model's global ECDF) is the prior: it counts as `prior_weight` earlier points, so a stream
with little history is calibrated mostly by the prior and a stream with a long one by itself.

The stream's history is a histogram on the prior's log-odds z = log10(p / (1 - p)), p = prior(raw),
`BINS_PER_DECADE` bins per decade from -`MAX_Z` to `MAX_Z`: fixed size whatever the stream's length (O(1)
update, O(bins) rank), fine at both ends (a bin at p = 0.999 spans 0.9990 to 0.99906 of the prior; a stream
whose scores all sit low in the prior still spreads over many bins). Equal scores get the mid-rank, so a
constant stream sits at 0.5 and never alarms. When the history passes `max_count` points every count is
halved: old behaviour fades, recent behaviour dominates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BINS_PER_DECADE = 40
MAX_Z = 8.0
N_BINS = int(2 * MAX_Z * BINS_PER_DECADE) + 1
DEFAULT_PRIOR_WEIGHT = 30.0
DEFAULT_MAX_COUNT = 20000.0


def tail_bins(prior_u: np.ndarray) -> np.ndarray:
    """Histogram bin of each prior probability on the log-odds scale."""
    u = np.clip(np.nan_to_num(np.asarray(prior_u, dtype=float), nan=0.0), 10.0 ** -MAX_Z, 1.0 - 10.0 ** -MAX_Z)
    z = np.log10(u / (1.0 - u)) + MAX_Z
    return np.clip(np.floor(z * BINS_PER_DECADE + 1e-9).astype(np.int64), 0, N_BINS - 1)


class OnlineRank:
    """One stream's history of one model's scores; `rank_and_add` calibrates points in arrival order."""

    def __init__(self, counts: np.ndarray | None = None, *, prior_weight: float = DEFAULT_PRIOR_WEIGHT,
                 max_count: float = DEFAULT_MAX_COUNT) -> None:
        self.counts = counts if counts is not None else np.zeros(N_BINS)
        self.prior_weight = prior_weight
        self.max_count = max_count

    @property
    def n(self) -> float:
        return float(self.counts.sum())

    def rank_and_add(self, prior_u: np.ndarray) -> np.ndarray:
        """Calibrated score of each point (given every earlier point, none later), adding each as it goes."""
        bins = tail_bins(prior_u)
        u = np.clip(np.nan_to_num(np.asarray(prior_u, dtype=float), nan=0.0), 0.0, 1.0)
        out = np.empty(bins.size)
        counts = self.counts
        cum = np.cumsum(counts)
        n = float(cum[-1]) if cum.size else 0.0
        w = self.prior_weight
        for i, b in enumerate(bins.tolist()):
            same = counts[b]
            below = cum[b] - same
            out[i] = (w * u[i] + below + 0.5 * same) / (w + n)
            counts[b] += 1.0
            cum[b:] += 1.0
            n += 1.0
            if n > self.max_count:
                counts *= 0.5
                cum = np.cumsum(counts)
                n = float(cum[-1])
        return np.clip(out, 0.0, 1.0)

    # -- persistence: sparse, the few occupied bins -----------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        nz = np.nonzero(self.counts)[0]
        return {"bins": nz.tolist(), "counts": [round(float(c), 3) for c in self.counts[nz]]}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None, **kw: Any) -> OnlineRank:
        counts = np.zeros(N_BINS)
        if data:
            idx = np.asarray(data.get("bins", []), dtype=np.int64)
            ok = (idx >= 0) & (idx < N_BINS)
            counts[idx[ok]] = np.asarray(data.get("counts", []), dtype=float)[ok]
        return cls(counts, **kw)

