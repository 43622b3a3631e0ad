"""The NAB scoring method (Lavin & Ahmad 2015, numenta/NAB scorer): windows, scaled sigmoid, normalized score.

Re-implemented from the method's description: the first 15% of each file (at most 750 rows) is probationary
and not scored; only the earliest detection inside a window counts, rewarded by a scaled sigmoid of its
position; detections outside windows are false positives weighted by the same sigmoid relative to the
preceding window; a missed window costs the false-negative weight; one threshold per application profile is
chosen for the whole corpus; the total is normalized so the null detector scores 0 and a perfect one 100."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

COSTS = {
    "standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "fn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "fn": 2.0},
}


def scaled_sigmoid(position: float) -> float:
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


@dataclass
class NabFile:
    name: str
    scores: np.ndarray  # anomaly score per row, 0..1
    windows: list[tuple[int, int]]  # inclusive row index ranges

    @property
    def probation(self) -> int:
        return min(int(math.floor(0.15 * self.scores.size)), 750)


def window_rows(timestamps: np.ndarray, windows: list[tuple[float, float]]) -> list[tuple[int, int]]:
    out = []
    for start, end in windows:
        idx = np.where((timestamps >= start) & (timestamps <= end))[0]
        if idx.size:
            out.append((int(idx[0]), int(idx[-1])))
    return out


def file_score(f: NabFile, threshold: float, costs: dict[str, float]) -> tuple[float, dict[str, int]]:
    detect = f.scores >= threshold
    detect[: f.probation] = False
    in_window = np.zeros(f.scores.size, dtype=bool)
    total, counts = 0.0, {"tp": 0, "fp": 0, "fn": 0}
    max_tp = scaled_sigmoid(-1.0)
    for start, end in f.windows:
        in_window[start : end + 1] = True
        hits = np.where(detect[start : end + 1])[0]
        length = end - start + 1
        if hits.size == 0:
            total -= costs["fn"]
            counts["fn"] += 1
        else:
            position = -(end - (start + int(hits[0])) + 1) / float(length)
            total += scaled_sigmoid(position) * costs["tp"] / max_tp
            counts["tp"] += 1
    ends = [e for _, e in f.windows]
    lengths = [e - s + 1 for s, e in f.windows]
    for i in np.where(detect & ~in_window)[0]:
        prev = [k for k, e in enumerate(ends) if e < i]
        if not prev:
            total -= costs["fp"]
        else:
            k = prev[-1]
            position = abs(ends[k] - int(i)) / float(max(lengths[k] - 1, 1))
            total += scaled_sigmoid(position) * costs["fp"]
        counts["fp"] += 1
    return total, counts


def corpus_score(files: list[NabFile], profile: str = "standard", thresholds: np.ndarray | None = None) -> dict:  # type: ignore[type-arg]
    """Best normalized score over thresholds (one threshold for the whole corpus)."""
    costs = COSTS[profile]
    n_windows = sum(len(f.windows) for f in files)
    null = -costs["fn"] * n_windows
    perfect = costs["tp"] * n_windows
    if thresholds is None:
        pooled = np.concatenate([f.scores[f.probation :] for f in files])
        thresholds = np.unique(np.quantile(pooled, np.linspace(0.80, 1.0, 161)))
    best = {"score": -math.inf}
    for t in thresholds:
        raw, tp, fp, fn = 0.0, 0, 0, 0
        for f in files:
            s, c = file_score(f, float(t), costs)
            raw += s
            tp, fp, fn = tp + c["tp"], fp + c["fp"], fn + c["fn"]
        normalized = 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0
        if normalized > best["score"]:
            best = {"score": round(normalized, 2), "threshold": round(float(t), 6), "raw": round(raw, 3),
                    "tp": tp, "fp": fp, "fn": fn, "windows": n_windows}
    return best
