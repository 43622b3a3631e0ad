"""The fan-out's answers as one table (events x models), so later nodes work on arrays, not per-event loops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from graph.state import ToolResult


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

    def row_spread(self, cols: np.ndarray) -> np.ndarray:
        """2 x standard deviation of the answered calibrated scores (0 with fewer than two)."""
        v, ok = self.score[:, cols], self.ready[:, cols]
        count = ok.sum(axis=1)
        mean = np.where(ok, v, 0.0).sum(axis=1) / np.maximum(count, 1)
        var = np.where(ok, (v - mean[:, None]) ** 2, 0.0).sum(axis=1) / np.maximum(count, 1)
        return np.where(count >= 2, 2.0 * np.sqrt(var), 0.0)

    def column(self, name: str) -> int | None:
        try:
            return self.names.index(name)
        except ValueError:
            return None

    def entry_maker(self) -> Any:
        """A function i -> the per-model part of decision i (status, score, raw, version, latency, error,
        detail); the per-batch work (rounding, constant fields) is done once here."""
        s, r = np.round(self.score, 6).tolist(), np.round(self.raw, 6).tolist()
        ready, warming = self.ready.tolist(), self.warming.tolist()
        bases = [{"name": t.name, "family": t.family, "version": t.version, "status": t.status,
                  "latency_ms": round(t.latency_ms, 3)} for t in self.results]
        extras = [t.scores.extras if t.scores is not None and t.scores.extras else None for t in self.results]
        errors = [{"score": None, "raw": None, "ready": False, "error": t.error} for t in self.results]
        warm = {"status": "warming_up", "score": None, "raw": None, "ready": False}
        cols = range(len(bases))
        missing = [{**base, **errors[j]} for j, base in enumerate(bases)]
        learning = [{**base, **warm} for base in bases]

        def make(i: int) -> list[dict[str, Any]]:
            si, ri, ok, learn = s[i], r[i], ready[i], warming[i]
            out = []
            for j in cols:
                if ok[j]:
                    e = {**bases[j], "score": si[j], "raw": ri[j], "ready": True}
                    ex = extras[j]
                    if ex is not None and ex[i]:
                        e["detail"] = {k: round(v, 6) if isinstance(v, float) else v for k, v in ex[i].items()}
                else:
                    e = dict(learning[j] if learn[j] else missing[j])
                out.append(e)
            return out

        return make
