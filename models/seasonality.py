"""Which seasonal periods a series has: candidates from its spacing, kept when M4's autocorrelation test agrees."""

from __future__ import annotations

import numpy as np

DAY, WEEK = 86400.0, 7 * 86400.0
MIN_CYCLES = 3  # as M4's benchmarks: a period is only tested on at least three full cycles


def candidate_periods(step_s: float) -> list[int]:
    """Calendar periods in steps of this spacing: a day and a week for sub-daily data, a week (and a year) for
    daily data; none for coarser spacings."""
    if step_s <= 0:
        return []
    if step_s < DAY * 0.9:
        return sorted({p for p in (round(DAY / step_s), round(WEEK / step_s)) if p >= 2})
    if step_s < DAY * 1.5:
        return [7, 365]
    return []


def acf(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelations at lags 0..max_lag (biased estimator, as M4's test uses)."""
    d = np.asarray(x, dtype=float) - float(np.mean(x))
    denom = float(d @ d)
    if denom <= 0:
        return np.zeros(max_lag + 1)
    n = d.size
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(d, size)
    full = np.fft.irfft(spec * np.conj(spec), size)[: max_lag + 1]
    return full / denom


def is_seasonal(x: np.ndarray, period: int, r: np.ndarray | None = None) -> bool:
    """M4's 90% test: |acf(period)| above 1.645 sqrt((1 + 2 sum_{k<period} acf(k)^2) / n)."""
    n = x.size
    if period < 2 or n < MIN_CYCLES * period:
        return False
    r = acf(x, period) if r is None or r.size <= period else r
    limit = 1.645 * np.sqrt((1 + 2 * float(np.sum(r[1:period] ** 2))) / n)
    return bool(abs(r[period]) > limit)


def detect_periods(values: np.ndarray, step_s: float) -> list[int]:
    """The candidate periods (ascending) that the series' own autocorrelation shows; [] when none does.

    A longer period is tested on the series with the shorter detected ones differenced away, so a daily
    pattern alone (which also repeats every week) does not count as a weekly one."""
    values = np.asarray(values, dtype=float)
    cands = [p for p in candidate_periods(step_s) if values.size >= MIN_CYCLES * p]
    if not cands or not np.all(np.isfinite(values)) or float(np.ptp(values)) == 0.0:
        return []
    found: list[int] = []
    x = values
    for p in cands:
        if x.size >= MIN_CYCLES * p and float(np.ptp(x)) > 0 and is_seasonal(x, p):
            found.append(p)
            x = x[p:] - x[:-p]
    return found


def median_step(ts: np.ndarray) -> float:
    """Median spacing of ascending timestamps in seconds (0 for fewer than two points)."""
    return float(np.median(np.diff(ts))) if ts.size >= 2 else 0.0


def primary_season(values: np.ndarray, ts: np.ndarray) -> int:
    """The shortest detected period of the series, 1 when it shows none (what `season` means to a model)."""
    periods = detect_periods(values, median_step(ts))
    return periods[0] if periods else 1
