"""One NAB stream as a PNG: values with labelled windows and alarms, the score with its threshold (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.nab_score import COSTS, NabFile, file_score


def plot_stream(f: NabFile, stamps: np.ndarray, threshold: float, out: Path, column: str) -> dict[str, Any]:
    """Write <out>/<stream>.png; return where, the alarm count and the file's raw NAB scores at the threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    when = pd.to_datetime(stamps, unit="s")
    alarms = np.nonzero(np.nan_to_num(f.scores, nan=-np.inf) >= threshold)[0]
    alarms = alarms[alarms >= f.probation]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(14, 6), sharex=True, height_ratios=[3, 2])
    values = f.values if f.values is not None else np.full(f.scores.size, np.nan)
    for ax in (top, bottom):
        ax.axvspan(when[0], when[max(f.probation - 1, 0)], color="0.85", label="probation" if ax is top else None)
        for k, (a, b) in enumerate(f.windows):
            ax.axvspan(when[a], when[b], color="tab:orange", alpha=0.25,
                       label="labelled window" if ax is top and k == 0 else None)
    top.plot(when, values, color="tab:blue", lw=0.7, label="value")
    top.scatter(when[alarms], values[alarms], color="tab:red", s=14, zorder=3,
                label=f"alarm (score >= {threshold:g})")
    top.legend(loc="upper left", fontsize=8)
    top.set_ylabel("value")
    bottom.plot(when, f.scores, color="tab:green", lw=0.7, label=column)
    bottom.axhline(threshold, color="tab:red", ls="--", lw=0.8, label="threshold")
    bottom.set_ylim(-0.02, 1.02)
    bottom.set_ylabel("score")
    bottom.legend(loc="upper left", fontsize=8)
    scores = {p: round(file_score(f, threshold, c)[0], 3) for p, c in COSTS.items()}
    top.set_title(f"{f.name}: {alarms.size} alarms after probation; raw NAB standard {scores['standard']}")
    fig.tight_layout()
    path = Path(out) / (Path(f.name).stem + ".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"plot": str(path), "stream": f.name, "column": column, "threshold": threshold,
            "alarms": int(alarms.size), "raw": scores}
