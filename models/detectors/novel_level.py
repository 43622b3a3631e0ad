"""Novel level: the value leaves the range the stream has shown so far (the spatial-anomaly rule of Numenta's
HTM detector). The raw score is the excess beyond the range seen before this point, as a share of that range,
when it passes `tolerance`, else 0. Silent for the first `burn_in` points, while the range is still forming.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from models.base import Extras
from models.detectors.range_scaled import RangeScaledDetector, stream_range


class NovelLevelModel(RangeScaledDetector):
    name: ClassVar[str] = "novel_level"
    defaults: ClassVar[dict[str, Any]] = {"tolerance": 0.02, "burn_in": 30}

    def initial_state(self, local: dict[str, Any]) -> dict[str, Any]:
        return {"lo": None, "hi": None, "n": 0}

    def run(self, local: dict[str, Any], state: dict[str, Any], u: np.ndarray,
            ts: np.ndarray) -> tuple[np.ndarray, Extras | None, dict[str, Any]]:
        tol, burn = float(local["tolerance"]), int(local["burn_in"])
        lo, hi, n = state["lo"], state["hi"], int(state["n"])
        out = np.zeros(u.size)
        for i, v in enumerate(np.asarray(u, dtype=float).tolist()):
            if lo is not None and n >= burn:
                excess = max(v - hi, lo - v, 0.0) / stream_range(lo, hi)
                out[i] = excess if excess > tol else 0.0
            lo = v if lo is None or v < lo else lo
            hi = v if hi is None or v > hi else hi
            n += 1
        return out, None, {"lo": lo, "hi": hi, "n": n}
