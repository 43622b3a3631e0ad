"""The fan-out's answers as one table (events x models), so later nodes work on arrays, not per-event loops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.domain import ModelOutput
from tools.results import ToolResult


@dataclass
class ScoreTable:
    names: list[str]
    families: list[str]
    results: list[ToolResult]
    score: np.ndarray  # calibrated 0..1; NaN where the model did not answer for that event
    raw: np.ndarray
    ready: np.ndarray  # answered
    warming: np.ndarray  # ran, but still learning this stream

    @classmethod
    def build(cls, outputs: dict[str, ToolResult], n: int) -> ScoreTable:
        names = list(outputs)
        m = len(names)
        score, raw = np.full((n, m), np.nan), np.full((n, m), np.nan)
        ready, warming = np.zeros((n, m), dtype=bool), np.zeros((n, m), dtype=bool)
        for j, name in enumerate(names):
            r = outputs[name]
            if r.status == "ok" and r.scores is not None:
                ok = np.asarray(r.scores.ready, dtype=bool)
                ready[:, j], warming[:, j] = ok, ~ok
                score[ok, j] = r.scores.score[ok]
                raw[ok, j] = r.scores.raw[ok]
        return cls(names=names, families=[outputs[n].family for n in names], results=list(outputs.values()),
                   score=score, raw=raw, ready=ready, warming=warming)

    def mask(self, members: list[str]) -> np.ndarray:
        """Columns trusted by an arm: listed by model name or by family."""
        return np.array([n in members or f in members for n, f in zip(self.names, self.families, strict=True)],
                        dtype=bool)

    def row_mean(self, cols: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """Mean over the given columns of each row's answered models (NaN where none answered)."""
        v = (self.score if values is None else values)[:, cols]
        ok = self.ready[:, cols]
        count = ok.sum(axis=1)
        total = np.where(ok, v, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def row_spread(self, cols: np.ndarray, floor: float = 0.0) -> np.ndarray:
        """2 x standard deviation of the answered calibrated scores (0 with fewer than two). With a `floor`,
        scores are first mapped to how far above it they are, (s - floor) / (1 - floor) clipped at 0: for
        causal ranks, which are uniform on calm data, only disagreement about the tail is disagreement."""
        v, ok = self.score[:, cols], self.ready[:, cols]
        if floor > 0.0:
            v = np.clip((v - floor) / (1.0 - floor), 0.0, 1.0)
        count = ok.sum(axis=1)
        mean = np.where(ok, v, 0.0).sum(axis=1) / np.maximum(count, 1)
        var = np.where(ok, (v - mean[:, None]) ** 2, 0.0).sum(axis=1) / np.maximum(count, 1)
        return np.where(count >= 2, 2.0 * np.sqrt(var), 0.0)

    def flag_counts(self, threshold: float) -> tuple[list[int], list[int]]:
        """Per model: (events it answered, of those the ones at or above threshold), for its anomaly rate."""
        flagged = self.ready & (np.nan_to_num(self.score, nan=0.0) >= threshold)
        return self.ready.sum(axis=0).tolist(), flagged.sum(axis=0).tolist()

    def column(self, name: str) -> int | None:
        try:
            return self.names.index(name)
        except ValueError:
            return None

    def entries(self) -> list[list[ModelOutput]]:
        """Each event's per-model part of its decision (name, family, version, status, latency, score, raw,
        ready, and a detail or an error), built model by model so the constant fields are set once per column;
        the matrices are rounded and converted to lists once, not per model (numpy's per-call cost is most of a
        small batch's work here)."""
        n = len(self.score)
        if not self.results:
            return [[] for _ in range(n)]
        scores, raws = np.round(self.score, 6).T.tolist(), np.round(self.raw, 6).T.tolist()
        readies, warmings = self.ready.T.tolist(), self.warming.T.tolist()
        cols = []
        for j, t in enumerate(self.results):
            name, family, version, lat = t.name, t.family, t.version, round(t.latency_ms, 3)
            learning = {"name": name, "family": family, "version": version, "status": "warming_up",
                        "latency_ms": lat, "score": None, "raw": None, "ready": False}
            missing = {"name": name, "family": family, "version": version, "status": t.status, "latency_ms": lat,
                       "score": None, "raw": None, "ready": False, "error": t.error}
            flags = zip(readies[j], warmings[j], strict=True)
            col: list[dict[str, Any]] = [
                {"name": name, "family": family, "version": version, "status": t.status, "latency_ms": lat,
                 "score": sc, "raw": rw, "ready": True} if ok else dict(learning if learn else missing)
                for sc, rw, (ok, learn) in zip(scores[j], raws[j], flags, strict=True)]
            extras = t.scores.extras if t.scores is not None else None
            if extras:  # detail columns, rounded as a whole; a row has its detail where the model answered it
                keys = list(extras)
                details = zip(*(np.round(extras[k], 6).tolist() for k in keys), strict=True)
                for entry, values in zip(col, details, strict=True):
                    if entry["ready"]:
                        entry["detail"] = dict(zip(keys, values, strict=True))
            cols.append(col)
        return [list(row) for row in zip(*cols, strict=True)]
