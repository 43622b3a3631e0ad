"""The NAB scoring method (Lavin & Ahmad 2015; numenta/NAB `nab/sweeper.py`), exact, with a one-pass threshold sweep.

Semantics, re-implemented from NAB's sweeper, optimizer and runner (no code copied):

- probation: the first min(floor(0.15 n), 750) rows of each file are dropped from scoring entirely (their
  detections are ignored; a window lying wholly inside probation is neither a hit nor a miss);
- a row inside a window scores sigmoid(-(right - i + 1) / width) * tp / sigmoid(-1); only the earliest scored
  detection of each window counts (NAB keeps the max, which is the earliest); a window with none costs -fn;
- a row outside every window scores fp * sigmoid(|i - right_prev| / (width_prev - 1)), relative to the window
  that ended last before it (-fp when none has ended yet), where sigmoid(x) = 2 / (1 + e^(5x)) - 1 and -1 past 3;
- a row is a detection when its score >= the threshold; one threshold for the whole corpus per profile; the
  candidates are every distinct scored value plus "no detection" (NAB's 1.1), ties go to the higher threshold;
- normalized = 100 (raw - null) / (perfect - null), null = the raw score with no detection at all (what NAB's
  null detector gets), perfect = tp x the number of labelled windows.

`sweep` sorts the scored rows of the corpus once and computes the raw score at every candidate threshold with
cumulative sums (NAB's single pass over sorted scores), so ~140k rows take well under a second. `file_score`
is the plain row-by-row definition, kept as the reference the tests compare the sweep with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# config/profiles.json of numenta/NAB (tnWeight is unused by the scorer).
COSTS = {
    "standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "fn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "fn": 2.0},
}
NO_DETECTION = math.inf  # the candidate threshold above every score (NAB starts its sweep at 1.1)


def scaled_sigmoid(position: float) -> float:
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


def probation_length(n: int) -> int:
    """NAB: min(floor(0.15 n), 0.15 * 5000)."""
    return int(min(math.floor(0.15 * n), 750))


@dataclass
class NabFile:
    name: str
    scores: np.ndarray  # anomaly score per row (NaN = no score: never a detection)
    windows: list[tuple[int, int]]  # inclusive row index ranges, sorted, disjoint
    values: np.ndarray | None = field(default=None, repr=False)  # the series, for plots only

    @property
    def probation(self) -> int:
        return probation_length(int(self.scores.size))

    @property
    def category(self) -> str:
        return self.name.split("/", 1)[0]


def window_rows(timestamps: np.ndarray, windows: list[tuple[float, float]]) -> list[tuple[int, int]]:
    """Row ranges of labelled windows (NAB's limits are timestamps of the file; rows inside them, inclusive)."""
    out = []
    for start, end in windows:
        idx = np.where((timestamps >= start) & (timestamps <= end))[0]
        if idx.size:
            out.append((int(idx[0]), int(idx[-1])))
    return out


def _sigmoid(position: np.ndarray) -> np.ndarray:
    return np.where(position > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * np.minimum(position, 3.0))) - 1.0)


def row_values(f: NabFile, costs: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per-row sweep score if the row were a detection, and its window index (-1 outside every window)."""
    n = f.scores.size
    value = np.full(n, -costs["fp"])  # before the first window: -fp
    window = np.full(n, -1, dtype=np.int64)
    for k, (start, end) in enumerate(f.windows):
        width = end - start + 1
        i = np.arange(start, end + 1)
        value[start : end + 1] = _sigmoid(-(end - i + 1) / float(width)) * costs["tp"] / MAX_TP
        window[start : end + 1] = k
        stop = f.windows[k + 1][0] if k + 1 < len(f.windows) else n
        after = np.arange(end + 1, stop)
        value[end + 1 : stop] = _sigmoid((after - end) / float(max(width - 1, 1))) * costs["fp"]
    return value, window


def scored_windows(f: NabFile) -> int:
    """Windows with at least one row after probation (the others NAB never scores)."""
    return sum(1 for _, end in f.windows if end >= f.probation)


def file_score(f: NabFile, threshold: float, costs: dict[str, float]) -> tuple[float, dict[str, int]]:
    """Reference definition, independent of the sweep: raw NAB score of one file at one threshold, row by row."""
    best: dict[int, float] = {k: -costs["fn"] for k, (_, end) in enumerate(f.windows) if end >= f.probation}
    total, fp = 0.0, 0
    for i in range(f.probation, f.scores.size):
        if not (f.scores[i] >= threshold):  # NaN never detects
            continue
        inside = [k for k, (a, b) in enumerate(f.windows) if a <= i <= b]
        if inside:
            a, b = f.windows[inside[0]]
            hit = scaled_sigmoid(-(b - i + 1) / float(b - a + 1)) * costs["tp"] / MAX_TP
            best[inside[0]] = max(best[inside[0]], hit)
            continue
        ended = [(a, b) for a, b in f.windows if b < i]
        if not ended:
            total -= costs["fp"]
        else:
            a, b = ended[-1]
            total += scaled_sigmoid(abs(i - b) / float(max(b - a, 1))) * costs["fp"]
        fp += 1
    detected = sum(1 for v in best.values() if v > -costs["fn"])
    return total + sum(best.values()), {"tp": detected, "fp": fp, "fn": len(best) - detected}


@dataclass
class Sweep:
    """Raw score at every candidate threshold, thresholds descending (the first is NO_DETECTION)."""

    thresholds: np.ndarray
    raw: np.ndarray
    tp: np.ndarray  # windows detected
    fp: np.ndarray  # false-positive rows
    windows: int  # labelled windows (perfect = tp weight x windows)
    scored_windows: int
    costs: dict[str, float]
    sorted_scores: np.ndarray  # all scored rows, descending, for lookups by threshold
    prefix_raw: np.ndarray  # raw score once the first j sorted rows are detections, j = 0..N
    prefix_tp: np.ndarray
    prefix_fp: np.ndarray

    @property
    def null(self) -> float:
        return -self.costs["fn"] * self.scored_windows

    @property
    def perfect(self) -> float:
        return self.costs["tp"] * self.windows

    def normalize(self, raw: float) -> float:
        return normalize(raw, self.null, self.perfect)

    def best_index(self) -> int:
        return int(np.argmax(self.raw))  # first maximum = highest threshold among ties, as NAB's stable sort

    def at(self, threshold: float) -> tuple[float, int, int]:
        """(raw, windows detected, fp rows) with detections = scores >= threshold."""
        j = int(np.searchsorted(-self.sorted_scores, -threshold, side="right"))
        return float(self.prefix_raw[j]), int(self.prefix_tp[j]), int(self.prefix_fp[j])


def normalize(raw: float, null: float, perfect: float) -> float:
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0


def sweep(files: list[NabFile], profile: str = "standard") -> Sweep:
    costs = COSTS[profile]
    scores, values, windows, n_win = [], [], [], 0
    for f in files:
        v, w = row_values(f, costs)
        p = f.probation
        s = f.scores[p:].astype(float)
        keep = ~np.isnan(s)
        scores.append(s[keep])
        values.append(v[p:][keep])
        windows.append(np.where(w[p:][keep] >= 0, w[p:][keep] + n_win, -1))
        n_win += len(f.windows)
    score = np.concatenate(scores) if scores else np.empty(0)
    value = np.concatenate(values) if values else np.empty(0)
    window = np.concatenate(windows) if windows else np.empty(0, dtype=np.int64)
    order = np.argsort(-score, kind="stable")
    score, value, window = score[order], value[order], window[order]
    delta = np.where(window < 0, value, 0.0)
    new_tp = np.zeros(score.size, dtype=np.int64)
    inside = np.nonzero(window >= 0)[0]
    if inside.size:
        # group window rows by window, keeping sorted order; each row adds (running max - previous running max)
        by_window = inside[np.argsort(window[inside], kind="stable")]
        w_sorted = window[by_window]
        starts = np.r_[0, np.nonzero(np.diff(w_sorted))[0] + 1]
        for a, b in zip(starts, np.r_[starts[1:], w_sorted.size], strict=True):
            rows = by_window[a:b]
            running = np.maximum.accumulate(np.r_[-costs["fn"], value[rows]])
            delta[rows] += np.diff(running)
            new_tp[rows[0]] = 1
    scored = sum(scored_windows(f) for f in files)
    prefix_raw = -costs["fn"] * scored + np.r_[0.0, np.cumsum(delta)]
    prefix_tp = np.r_[0, np.cumsum(new_tp)]
    prefix_fp = np.r_[0, np.cumsum(window < 0)]
    # a threshold t detects every row with score >= t: evaluate after the last row of each distinct value
    ends = np.r_[np.nonzero(np.diff(score))[0] + 1, score.size] if score.size else np.empty(0, dtype=np.int64)
    idx = np.r_[0, ends].astype(np.int64)
    thresholds = np.r_[NO_DETECTION, score[ends - 1]] if score.size else np.array([NO_DETECTION])
    return Sweep(thresholds=thresholds, raw=prefix_raw[idx], tp=prefix_tp[idx], fp=prefix_fp[idx],
                 windows=sum(len(f.windows) for f in files), scored_windows=scored, costs=costs,
                 sorted_scores=score, prefix_raw=prefix_raw, prefix_tp=prefix_tp, prefix_fp=prefix_fp)


def summarize(s: Sweep, threshold: float | None = None) -> dict:  # type: ignore[type-arg]
    """Normalized score at `threshold`, or at the best threshold (oracle) when None.

    tp / fn count windows (detected / missed), fp counts false-positive rows; a threshold of None in the
    answer means the best choice was to detect nothing."""
    if threshold is None:
        k = s.best_index()
        t, raw, tp, fp = float(s.thresholds[k]), float(s.raw[k]), int(s.tp[k]), int(s.fp[k])
    else:
        t = threshold
        raw, tp, fp = s.at(threshold)
    return {"score": round(s.normalize(raw), 2), "threshold": None if math.isinf(t) else round(t, 6),
            "raw": round(raw, 3), "tp": tp, "fp": fp, "fn": s.scored_windows - tp, "windows": s.windows}


def corpus_score(files: list[NabFile], profile: str = "standard", threshold: float | None = None) -> dict:  # type: ignore[type-arg]
    """Normalized NAB score of the corpus at `threshold`, or at the best one (oracle) when None."""
    return summarize(sweep(files, profile), threshold)
