"""One NAB stream as a PNG: values with labelled windows, probation and the alarm stage's alarms; the continuous
score with the alarm threshold (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.nab_score import COSTS, NabFile, file_score


def plot_stream(f: NabFile, stamps: np.ndarray, flags: np.ndarray, threshold: float, refractory: int, out: Path,
                column: str) -> dict[str, Any]:
    """Write <out>/<stream>.png; return where, the alarm count (after probation: the scored ones) and the file's
    raw NAB scores of those alarms. `flags` is the alarm stage's output on `f.scores` at (threshold, refractory)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    flags = np.asarray(flags, dtype=bool)
    when = pd.to_datetime(stamps, unit="s")
    every = np.nonzero(flags)[0]
    alarms, early = every[every >= f.probation], every[every < f.probation]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(14, 6), sharex=True, height_ratios=[3, 2])
    values = f.values if f.values is not None else np.full(f.scores.size, np.nan)
    for ax in (top, bottom):
        if f.probation:
            ax.axvspan(when[0], when[f.probation - 1], color="0.85", label="probation (not scored)" if ax is top else None)
        for k, (a, b) in enumerate(f.windows):
            ax.axvspan(when[a], when[b], color="tab:orange", alpha=0.25,
                       label="labelled window" if ax is top and k == 0 else None)
    top.plot(when, values, color="tab:blue", lw=0.7, label="value")
    top.scatter(when[alarms], values[alarms], color="tab:red", s=18, zorder=3,
                label=f"alarm (threshold {threshold:g}, refractory {refractory})")
    if early.size:
        top.scatter(when[early], values[early], facecolors="none", edgecolors="tab:red", s=18, zorder=3,
                    label="alarm in probation")
    top.legend(loc="upper left", fontsize=8)
    top.set_ylabel("value")
    bottom.plot(when, f.scores, color="tab:green", lw=0.7, label=column)
    bottom.axhline(threshold, color="tab:red", ls="--", lw=0.8, label=f"alarm threshold {threshold:g}")
    bottom.scatter(when[every], np.clip(np.nan_to_num(f.scores[every]), 0.0, 1.0), marker="v", color="tab:red",
                   s=16, zorder=3, label="alarm")
    bottom.set_ylim(-0.02, 1.02)
    bottom.set_ylabel("score")
    bottom.legend(loc="upper left", fontsize=8)
    alarmed = NabFile(f.name, flags.astype(float), f.windows)
    scores = {p: round(file_score(alarmed, 0.5, c)[0], 3) for p, c in COSTS.items()}
    top.set_title(f"{f.name}: {alarms.size} alarms after probation; raw NAB standard {scores['standard']}")
    fig.tight_layout()
    path = Path(out) / (Path(f.name).stem + ".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"plot": str(path), "stream": f.name, "column": column, "threshold": threshold, "refractory": refractory,
            "alarms": int(alarms.size), "alarms_in_probation": int(early.size), "raw": scores}
