"""bench.nab's protocols that re-choose the product's own tunables per leave-one-category-out fold, with the
alarm pair, on the other four categories: `loco_tuned` (the consensus' k and discount) and `loco_detectors`
(the context-novelty detector's settings, its column recomputed from the values with the product's classes).
The anomaly score is rebuilt from the replay's per-model columns with the product's combination function."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pandas as pd

from bench.nab import TIE, AlarmTable, Frames, Pair, ops_profile
from bench.nab_score import COSTS, NabFile, normalize
from models.calibration import EcdfCalibrator
from models.detectors.context_novelty import ContextNoveltyModel
from policies.combination import max_and_consensus

CONSENSUS_K = (5, 6, 7)
CONSENSUS_DISCOUNT = (0.0, 0.3, 0.6)
# the context-novelty detector's settings `loco_detectors` chooses among (each fold on its other four categories)
CN_GRID = [{"window": w, "vigilance": v, "quiet": q} for w in (4, 6, 8) for v in (0.06, 0.08, 0.1) for q in (48, 96, 144)]


def _columns(df: pd.DataFrame, names: list[str], override: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """rows x names: the replay's `score_<name>` columns, or the given arrays in their place."""
    override = override or {}
    return np.column_stack([override[n] if n in override else
                            pd.to_numeric(df[f"score_{n}"], errors="coerce").to_numpy(dtype=float) for n in names])


def combination_files(frames: Frames, combine: Any, k: int, discount: float,
                      columns: dict[str, dict[str, np.ndarray]] | None = None) -> list[NabFile]:
    """NabFiles whose scores are the fixed combination recomputed from the per-model columns at (k, discount);
    `columns` (model -> file -> scores) replaces replayed columns."""
    out = []
    for rel, df, windows, _ in frames:
        override = {name: by_file[rel] for name, by_file in (columns or {}).items()}
        cons = combine.consensus
        score = max_and_consensus(_columns(df, combine.members, override),
                                  _columns(df, cons.members, override) if cons is not None else None,
                                  k=k, discount=discount)
        out.append(NabFile(rel, score, windows, values=df["value"].to_numpy(dtype=float)))
    return out


def loco_over(variants: dict[Hashable, AlarmTable], files: list[NabFile],
              describe: Callable[[Hashable], dict[str, Any]]) -> dict[str, Any]:
    """Per NAB profile: each category scored with the (variant, alarm pair) best on the other four; held-out raw
    scores summed and normalized once. `describe` names a variant in the fold's report."""
    out: dict[str, Any] = {}
    for p in COSTS:
        raw_total, null_total, perfect_total, folds = 0.0, 0.0, 0.0, {}
        for cat in sorted({f.category for f in files}):
            best: tuple[float, Hashable, Pair] | None = None
            for key, table in variants.items():
                train = table.mask(exclude=cat)
                pair = table.best(p, train)
                score = table.summary(pair, p, train)["score"]
                if best is None or score > best[0] + TIE:
                    best = (score, key, pair)
            assert best is not None
            _, key, pair = best
            table = variants[key]
            held = table.mask(category=cat)
            s = table.summary(pair, p, held)
            null, perfect = table.null_perfect(p, held)
            raw_total, null_total, perfect_total = raw_total + s["raw"], null_total + null, perfect_total + perfect
            folds[cat] = {**describe(key), "threshold": pair[0], "refractory": pair[1], "train_score": best[0],
                          "score": s["score"] if s["windows"] else None, "tp": s["tp"], "fp": s["fp"], "fn": s["fn"]}
        out[p] = {"score": round(normalize(raw_total, null_total, perfect_total), 2), "folds": folds}
    return out


def loco_tuned(frames: Frames, combine: Any, files: list[NabFile]) -> dict[str, Any]:
    """Leave-one-category-out choosing (consensus k, discount, threshold, refractory) on the other categories."""
    variants: dict[Hashable, AlarmTable] = {(k, d): AlarmTable(combination_files(frames, combine, k, d))
                                            for k in CONSENSUS_K for d in CONSENSUS_DISCOUNT}
    own = combination_files(frames, combine, combine.consensus.k, combine.consensus.discount)
    diff = max(float(np.nanmax(np.abs(a.scores - b.scores))) for a, b in zip(own, files, strict=True))
    return {"combination_max_diff": round(diff, 6),
            **loco_over(variants, files, lambda key: {"k": key[0], "discount": key[1]})}  # type: ignore[index]


def detector_ranks(frames: Frames, name: str, params: dict[str, Any], training: set[str],
                   warmup: int) -> dict[str, np.ndarray]:
    """The causal rank of a range-scaled detector (context_novelty, novel_level) with other settings, computed
    from each file's values as the product computes it: the model fitted on the profile's training streams
    (its calibration prior), then each file run from an empty state and ranked with OnlineRank."""
    from models.base import SeriesData
    from models.catalog import create
    from models.online_rank import OnlineRank

    model = create(name, params)
    values = {rel: df["value"].to_numpy(dtype=float) for rel, df, _, _ in frames}
    stamps = {rel: ts for rel, _, _, ts in frames}
    refs = [model.fit_series(SeriesData(rel, stamps[rel], values[rel], values[rel], warmup))[0]
            for rel in sorted(training) if rel in values]
    cal = EcdfCalibrator.fit(np.concatenate(refs))
    local = dict(model.params)
    out = {}
    for rel, v in values.items():
        raw, _, _ = model.run(local, model.initial_state(local), v, stamps[rel])
        out[rel] = OnlineRank().rank_and_add(cal.transform_mid(raw))
    return out


def loco_detectors(frames: Frames, combine: Any, files: list[NabFile], training: set[str],
                   warmup: int) -> dict[str, Any]:
    """Leave-one-category-out choosing the context-novelty settings (CN_GRID) with the alarm pair on the other
    four categories; the anomaly score is recomputed with each setting's context_novelty column (the other
    columns as replayed, the profile's own consensus)."""
    own = ContextNoveltyModel.defaults | (ops_profile().models.params.get("context_novelty") or {})
    k, discount = (combine.consensus.k, combine.consensus.discount) if combine.consensus else (1, 0.0)
    variants: dict[Hashable, AlarmTable] = {}
    diff = None
    for params in CN_GRID:
        column = detector_ranks(frames, "context_novelty", params, training, warmup)
        variants[json.dumps(params, sort_keys=True)] = AlarmTable(
            combination_files(frames, combine, k, discount, {"context_novelty": column}))
        if all(own.get(key) == v for key, v in params.items()):
            diff = max(float(np.nanmax(np.abs(column[rel] - pd.to_numeric(df["score_context_novelty"],
                                                                          errors="coerce").to_numpy(dtype=float))))
                       for rel, df, _, _ in frames)
    return {"detector_max_diff": None if diff is None else round(diff, 6), "grid": CN_GRID,
            **loco_over(variants, files, lambda key: {"context_novelty": json.loads(str(key))})}
