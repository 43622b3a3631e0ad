"""Two-sided CUSUM on a stream's normalized level; drift and threshold learned from the warm-up."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from models.base import Detector, Extras, TrainingSet
from models.sequential import SequentialModel


class CusumModel(SequentialModel, Detector):
    """S+ = max(0, S+ + z - k), S- = max(0, S- - z - k), z = (u - ref) / s; raw = max(S+, S-) / h.

    Learned on the warm-up: the reference level (median), the robust scale s, and the threshold h (the
    `quantile` of the in-control statistic, at least `min_h`); k is the drift allowance in units of s.
    After an alarm (statistic above h) both sums restart, and the reference follows the level slowly
    (`lam`), so a lasting shift raises repeated alarms until it becomes the new normal.
    """

    name: ClassVar[str] = "cusum"
    artifact_format: ClassVar[str] = "json"

    def fit_local(self, u: np.ndarray, ts: np.ndarray, season: int) -> dict[str, Any] | None:
        if u.size < 10:
            return None
        ref = float(np.median(u))
        mad = float(np.median(np.abs(u - ref))) * 1.4826
        s = max(mad, 0.1 * float(np.std(u)), float(self.params.get("min_scale", 1e-4)))
        local = {
            "ref": ref, "s": s, "k": float(self.params.get("k", 0.5)), "h": float("inf"),
            "lam": float(self.params.get("lam", 0.01)),
        }
        stat, _ = self._walk(local, self.initial_state(local), u)
        q = float(np.quantile(stat, float(self.params.get("quantile", 0.99))))
        local["h"] = max(q, float(self.params.get("min_h", 3.0)))
        return local

    def initial_state(self, local: dict[str, Any]) -> dict[str, Any]:
        return {"sp": 0.0, "sn": 0.0, "ref": local["ref"]}

    def _walk(self, local: dict[str, Any], state: dict[str, Any], u: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        sp, sn, ref = state["sp"], state["sn"], state["ref"]
        s, k, h, lam = local["s"], local["k"], local["h"], local["lam"]
        out = np.empty(u.size)
        for i, x in enumerate(u.tolist()):
            z = (x - ref) / s
            sp = max(0.0, sp + z - k)
            sn = max(0.0, sn - z - k)
            out[i] = sp if sp > sn else sn
            if out[i] > h:
                sp = sn = 0.0
            ref += lam * (x - ref)
        return out, {"sp": sp, "sn": sn, "ref": ref}

    def run(
        self, local: dict[str, Any], state: dict[str, Any], u: np.ndarray, ts: np.ndarray
    ) -> tuple[np.ndarray, Extras | None, dict[str, Any]]:
        stat, new_state = self._walk(local, state, u)
        return stat / local["h"], None, new_state

    def _fit_global(self, data: TrainingSet) -> None:
        keys = ("ref", "s", "k", "h", "lam")
        self.global_ = (
            {k: float(np.median([loc[k] for loc in self.locals_.values()])) for k in keys} if self.locals_ else None
        )

    def global_local(self) -> dict[str, Any] | None:
        return getattr(self, "global_", None)

    def _save(self, directory: Any) -> dict[str, Any]:
        out = super()._save(directory)
        out["global"] = self.global_local()
        return out

    def _load(self, directory: Any, meta: dict[str, Any]) -> None:
        super()._load(directory, meta)
        self.global_ = meta.get("global")
