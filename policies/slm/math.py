"""Math SLM: peg deviation, rate of change, z-score against the baseline, derived ratios, physical limits."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from core.domain import Signal
from core.profiles import Profile
from policies.rules import RulePack


def check_probability(name: str, p: np.ndarray) -> str | None:
    """A model output that is not a probability in [0, 1] is rejected (reason), never used."""
    if p.size == 0 or (p.min() >= 0.0 and p.max() <= 1.0):  # NaN fails both comparisons, inf the second
        return None
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        return f"{name}: output {float(p[bad][0])!r} outside [0, 1]"
    return None


def stream_math(
    profile: Profile, pack: RulePack, values: np.ndarray, prev: np.ndarray,
    baselines: Sequence[tuple[float, float] | None], win_mean: np.ndarray, win_std: np.ndarray,
    enough_history: np.ndarray | None = None,
) -> list[dict[str, float]]:
    """Per-event math quantities for a stream profile. Without a stored baseline, the z-score is against the
    recent window, and only once the window is full (otherwise 0: too little history to judge)."""
    assert profile.features is not None
    peg = profile.features.peg if profile.features.normalize == "peg" else None
    out = []
    for i, v in enumerate(values.tolist()):
        p = float(prev[i])
        q: dict[str, float] = {"value": v, "rate_of_change": (v / p - 1.0) if p not in (0.0,) else 0.0}
        if peg is not None:
            q["deviation"] = v - peg
            q["abs_deviation"] = abs(v - peg)
        base = baselines[i] if i < len(baselines) else None
        mean, sd = base if base is not None else (float(win_mean[i]), float(win_std[i]))
        full = base is not None or enough_history is None or bool(enough_history[i])
        q["zscore"] = (v - mean) / max(sd, 1e-6 * max(1.0, abs(mean))) if full else 0.0
        q["baseline_mean"], q["baseline_std"] = mean, sd
        out.append(q)
    return out


def tabular_math(pack: RulePack, rows: Sequence[dict[str, float]]) -> list[dict[str, float]]:
    out = []
    for row in rows:
        q: dict[str, float] = {}
        for name, expr in pack.derived_exprs.items():
            try:
                val = expr(row)
                q[name] = float(val) if val is not None and math.isfinite(float(val)) else float("nan")
            except (ValueError, TypeError):
                q[name] = float("nan")
        out.append(q)
    return out


def math_signals(pack: RulePack, quantities: dict[str, float]) -> list[Signal]:
    """Signals (with the values and limits that fired them) from one event's quantities."""
    lim = pack.math
    sig: list[Signal] = []
    checks = [
        ("abs_deviation", lim.deviation_band), ("rate_of_change", lim.roc_limit), ("zscore", lim.zscore_limit),
    ]
    for name, limit in checks:
        if name in quantities:
            value = quantities[name]
            fired = limit is not None and abs(value) >= limit
            sig.append({"slm": "math", "name": name, "value": _r(value), "limit": limit, "fired": bool(fired)})
    for name in pack.derived:
        if name in quantities:
            sig.append({"slm": "math", "name": name, "value": _r(quantities[name]), "limit": None, "fired": False})
    return sig


def meta_math_names(profile: Profile, pack: RulePack) -> list[str]:
    """Math quantities the meta-classifier sees (same definition in training and serving)."""
    if profile.is_stream:
        assert profile.features is not None
        return (["abs_deviation"] if profile.features.normalize == "peg" else []) + ["rate_of_change"]
    return list(pack.derived)


def _r(x: float) -> float:
    return float(f"{x:.6g}") if math.isfinite(x) else x
