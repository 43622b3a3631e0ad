"""Context novelty: how far the stream's recent shape is from every shape it has shown before.

The idea behind contextOSE and ARTime (NAB's best published detectors), in a form with a bounded, persisted
memory: the stream is cut into blocks of `stride` points, each block represented by its most extreme value
(the one farther from a running mean, so a one-point spike survives); the last `window` block values form the
context. Its distance to the nearest stored context (mean absolute difference, divided by the range the stream
has shown so far, so the unit does not matter) is its novelty. A context farther than `vigilance` from every
stored one is stored (up to `memory` contexts; the least recently matched one makes room).

A stream that keeps producing new contexts (noise) is not surprising when it produces one more: the raw score
is the novelty of a new context only after `quiet` blocks without one, and 0 otherwise. O(memory x window)
per block whatever the stream's length.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from models.base import Extras
from models.detectors.range_scaled import RangeScaledDetector, stream_range


class ContextNoveltyModel(RangeScaledDetector):
    name: ClassVar[str] = "context_novelty"
    defaults: ClassVar[dict[str, Any]] = {"stride": 5, "window": 6, "vigilance": 0.08, "quiet": 96, "memory": 256}

    def initial_state(self, local: dict[str, Any]) -> dict[str, Any]:
        return {"lo": None, "hi": None, "ma": None, "block": [], "reps": [], "mem": [], "age": [], "k": 0,
                "last_new": -(10**9)}

    def run(self, local: dict[str, Any], state: dict[str, Any], u: np.ndarray,
            ts: np.ndarray) -> tuple[np.ndarray, Extras | None, dict[str, Any]]:
        stride, L, rho = int(local["stride"]), int(local["window"]), float(local["vigilance"])
        quiet, cap = int(local["quiet"]), int(local["memory"])
        lo, hi, ma = state["lo"], state["hi"], state["ma"]
        block, reps = list(state["block"]), list(state["reps"])
        mem = np.asarray(state["mem"], dtype=float).reshape(-1, L)
        age = np.asarray(state["age"], dtype=float)
        k, last_new = int(state["k"]), int(state["last_new"])
        out = np.zeros(u.size)
        for i, v in enumerate(np.asarray(u, dtype=float).tolist()):
            lo = v if lo is None or v < lo else lo
            hi = v if hi is None or v > hi else hi
            block.append(v)
            if len(block) < stride:
                continue
            mean = sum(block) / len(block)
            ma = mean if ma is None else 0.5 * (ma + mean)
            top, bottom = max(block), min(block)
            reps.append(top if abs(top - ma) >= abs(bottom - ma) else bottom)
            block = []
            reps = reps[-L:]
            k += 1
            if len(reps) < L:
                continue
            ctx = np.asarray(reps)
            if mem.shape[0]:
                dist = np.abs(mem - ctx).mean(axis=1)
                j = int(dist.argmin())
                novelty = float(dist[j]) / stream_range(lo, hi)
            else:
                j, novelty = -1, float("inf")
            if novelty <= rho:
                age[j] = k  # matched: recently useful
                continue
            if k - last_new > quiet and np.isfinite(novelty):
                out[i] = novelty
            last_new = k
            if mem.shape[0] < cap:
                mem = np.vstack([mem, ctx])
                age = np.append(age, k)
            else:
                slot = int(age.argmin())
                mem[slot] = ctx
                age[slot] = k
        return out, None, {"lo": lo, "hi": hi, "ma": ma, "block": block, "reps": reps, "mem": mem.tolist(),
                           "age": age.tolist(), "k": k, "last_new": last_new}
