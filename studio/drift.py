"""Drift, off the hot path: every STUDIO_DRIFT_INTERVAL_S, each profile's last STUDIO_DRIFT_WINDOW decisions
(read back from the database, so every replica reports the same) are compared with the training reference
recorded in the pipeline artifact (models/drift_reference.py): per feature the population stability index
over the training deciles and the two-sample Kolmogorov-Smirnov statistic (scipy); per model the same for its
calibrated scores, and its anomaly rate (share at or above the profile's alert threshold) against the rate the
reference implies. Exposed as gauges and as GET /v1/drift/{profile}."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

import numpy as np
from scipy import stats
from sqlalchemy import Engine

from core.errors import NotFound
from core.profiles import Profile, get_profile
from core.settings import Settings
from runtime.profile_runtime import ProfileRuntime
from store.drift_queries import recent_inputs
from store.ids import now_iso
from studio.metrics import Metrics

log = logging.getLogger(__name__)
MIN_LIVE = 50  # fewer live decisions than this: no statistics yet
EPS = 1e-4  # floor of a bin's share in the PSI (an empty bin would make it infinite)
QUANTILES = ("0.1", "0.5", "0.9", "0.99")  # of each model's live calibrated scores (studio_model_score_quantile)
UNIFORM_EDGES = [round(x, 1) for x in np.linspace(0.0, 1.0, 11)]


def psi(live: np.ndarray, reference: np.ndarray, edges: list[float]) -> float:
    """Population stability index of live against reference over the reference's bins: cut at its interior
    quantiles, tied quantiles cut once (a binary feature has the bins below, at and above its values)."""
    cuts = np.unique(np.asarray(edges, dtype=float)[1:-1])  # interior quantiles; tied ones are one cut
    k = cuts.size + 1
    p = np.bincount(np.searchsorted(cuts, live, side="right"), minlength=k) / max(live.size, 1)
    q = np.bincount(np.searchsorted(cuts, reference, side="right"), minlength=k) / max(reference.size, 1)
    p, q = np.maximum(p, EPS), np.maximum(q, EPS)
    return float(np.sum((p - q) * np.log(p / q)))


def _r(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def feature_drift(name: str, live: np.ndarray, ref: dict[str, Any]) -> dict[str, Any]:
    sample = np.asarray(ref["sample"], dtype=float)
    ks = stats.ks_2samp(live, sample)
    return {"feature": name, "psi": _r(psi(live, sample, ref["edges"])), "ks": _r(ks.statistic),
            "ks_pvalue": _r(ks.pvalue), "live_mean": _r(float(live.mean())), "reference_mean": ref.get("mean")}


def score_drift(name: str, live: np.ndarray, ref: dict[str, Any], threshold: float) -> dict[str, Any]:
    if ref["kind"] == "uniform":
        ks = stats.kstest(live, "uniform")
        reference = np.linspace(0.0, 1.0, 1001)
        edges, expected = UNIFORM_EDGES, 1.0 - threshold
    else:
        reference = np.asarray(ref["sample"], dtype=float)
        ks = stats.ks_2samp(live, reference)
        edges = [float(e) for e in np.quantile(reference, np.linspace(0.0, 1.0, 11))]
        expected = float((reference >= threshold).mean())
    quantiles = {q: round(float(v), 6) for q, v in zip(QUANTILES, np.quantile(live, [float(q) for q in QUANTILES]),
                                                       strict=True)}
    return {"model": name, "reference": ref["kind"], "quantiles": quantiles,
            "psi": _r(psi(live, reference, edges)), "ks": _r(ks.statistic),
            "ks_pvalue": _r(ks.pvalue), "anomaly_rate": _r(float((live >= threshold).mean())),
            "expected_anomaly_rate": _r(expected)}


class DriftMonitor:
    def __init__(self, settings: Settings, engine: Engine, metrics: Metrics, profiles: dict[str, Profile],
                 runtimes: dict[str, ProfileRuntime]) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.profiles = profiles
        self.runtimes = runtimes
        self.reports: dict[str, dict[str, Any]] = {}

    def compute(self, profile: str) -> dict[str, Any]:
        rt = self.runtimes[profile]
        pipeline = rt.bundle.pipeline
        reference = getattr(pipeline, "reference", None)
        window = self.settings.drift_window
        rows, scores, first, last = recent_inputs(self.engine, profile, window)
        out: dict[str, Any] = {
            "profile": profile, "computed_at": now_iso(),
            "window": {"decisions": len(rows), "size": window, "from": first, "to": last},
            "reference": None if reference is None else {"source": "training", "rows": reference["rows"],
                                                         "pipeline_version": rt.bundle.versions.get("pipeline")},
            "status": "ok", "features": [], "models": []}
        if reference is None:
            out["status"] = "no_reference"
            out["note"] = "the pipeline was trained before drift references were recorded: run `studio train`"
            return out
        if len(rows) < MIN_LIVE:
            out["status"] = "insufficient_data"
            out["note"] = f"{len(rows)} decisions in the window; statistics from {MIN_LIVE} on"
            return out
        names = list(pipeline.feature_names)
        X = np.asarray([r for r in rows if len(r) == len(names)], dtype=float)
        for j, name in enumerate(names):
            ref = reference["features"].get(name)
            col = X[:, j][np.isfinite(X[:, j])] if X.size else np.empty(0)
            if ref is not None and col.size >= MIN_LIVE:
                out["features"].append(feature_drift(name, col, ref))
        threshold = rt.profile.thresholds.alert
        for name, ref in reference["scores"].items():
            live = np.asarray(scores.get(name, []), dtype=float)
            if live.size >= MIN_LIVE:
                out["models"].append(score_drift(name, live, ref, threshold))
        return out

    def publish(self, report: dict[str, Any]) -> None:
        p = report["profile"]
        self.reports[p] = report
        self.metrics.drift_window.labels(p).set(report["window"]["decisions"])
        for f in report["features"]:
            self.metrics.feature_psi.labels(p, f["feature"]).set(f["psi"] or 0.0)
            self.metrics.feature_ks.labels(p, f["feature"]).set(f["ks"] or 0.0)
        for m in report["models"]:
            for q, v in m["quantiles"].items():
                self.metrics.score_quantile.labels(p, m["model"], q).set(v)
            self.metrics.score_psi.labels(p, m["model"]).set(m["psi"] or 0.0)
            self.metrics.score_ks.labels(p, m["model"]).set(m["ks"] or 0.0)
            self.metrics.anomaly_rate.labels(p, m["model"]).set(m["anomaly_rate"] or 0.0)
            self.metrics.expected_anomaly_rate.labels(p, m["model"]).set(m["expected_anomaly_rate"] or 0.0)

    def refresh(self) -> None:
        for name in self.runtimes:
            try:
                self.publish(self.compute(name))
            except Exception:  # one profile's failure leaves the others' gauges fresh
                log.exception("drift of profile %s", name)

    async def report(self, profile: str) -> dict[str, Any]:
        """GET /v1/drift/{profile}: the latest report (computed now if none yet)."""
        get_profile(self.profiles, profile)
        if profile not in self.runtimes:
            raise NotFound(f"profile {profile!r} is not served here")
        if profile not in self.reports:
            self.publish(await asyncio.to_thread(self.compute, profile))
        return self.reports[profile]

    async def run(self, interval_s: float) -> None:
        while True:
            await asyncio.to_thread(self.refresh)
            await asyncio.sleep(interval_s)
