"""Prometheus metrics of one service instance (own registry, so tests can build many instances)."""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()  # no `_created` series beside every counter and histogram
# 0.3: the latency SLO's bound (deploy/prometheus/rules: 95% of requests under 300 ms)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)
STANDARD_COLLECTORS = (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR)  # process_*, python_info, python_gc_*
MODEL_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        for collector in STANDARD_COLLECTORS:
            r.register(collector)
        self.requests = Histogram("studio_http_request_seconds", "HTTP request latency", ["method", "route", "status"],
                                  buckets=LATENCY_BUCKETS, registry=r)
        self.decisions = Counter("studio_decisions_total", "Decisions by profile and action", ["profile", "action"],
                                 registry=r)
        self.models = Histogram("studio_model_seconds", "Per-model scoring latency per batch",
                                ["profile", "model", "status"], buckets=MODEL_BUCKETS, registry=r)
        self.batch_size = Histogram("studio_batch_size", "Events per micro-batch", ["profile"],
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), registry=r)
        self.batch_seconds = Histogram("studio_batch_seconds", "Graph run time per micro-batch", ["profile"],
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.uptime = Gauge("studio_started_at_seconds", "Unix time the service started", registry=r)
        self.llm_tokens = Counter("studio_llm_tokens_total", "LLM tokens", ["purpose", "kind"], registry=r)
        self.llm_seconds = Histogram("studio_llm_seconds", "LLM call latency", ["purpose", "outcome"],
                                     buckets=LATENCY_BUCKETS, registry=r)
        self.llm_cost = Counter("studio_llm_cost_usd_total", "Estimated LLM cost in USD", ["purpose"], registry=r)
        self.llm_circuit_open = Gauge("studio_llm_circuit_open", "1 while the LLM circuit breaker is open (calls "
                                      "fail at once, explanations fall back to the template narrator)", registry=r)
        self.llm_circuit_transitions = Counter("studio_llm_circuit_transitions_total",
                                               "LLM circuit breaker state changes, by the state entered", ["state"],
                                               registry=r)
        self.review_verdicts = Counter("studio_review_verdicts_total", "Alert review verdicts applied",
                                       ["profile", "verdict"], registry=r)
        self.review_precision = Gauge(
            "studio_review_model_precision", "Per-model precision on reviewed alerts: of the reviewed decisions the "
            "model flagged (calibrated score >= the profile's alert threshold), the share a person confirmed",
            ["profile", "model"], registry=r)
        self.review_flagged = Gauge("studio_review_model_flagged", "Reviewed decisions the model flagged",
                                    ["profile", "model"], registry=r)
        self.denied = Counter("studio_access_denied_total", "Requests refused by access control",
                              ["status"], registry=r)
        self.model_answered = Counter("studio_model_answered_total", "Events a model scored (ready)",
                                      ["profile", "model"], registry=r)
        self.model_flagged = Counter(
            "studio_model_flagged_total", "Events a model scored at or above its profile's alert threshold "
            "(calibrated); over studio_model_answered_total: the model's anomaly rate", ["profile", "model"],
            registry=r)
        self._flag_children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.queue_jobs = Gauge("studio_queue_jobs", "Jobs of a durable queue by status (explanations, webhooks)",
                                ["queue", "status"], registry=r)
        self.streams_silent = Gauge(
            "studio_streams_silent", "Streams that sent within the last day but nothing for STUDIO_STREAM_SILENT_S",
            ["profile"], registry=r)
        self.audit_chain_ok = Gauge("studio_audit_chain_ok", "1 if the last audit verification found the chain, "
                                    "decision rows and checkpoints intact, else 0", registry=r)
        self.audit_verified_at = Gauge("studio_audit_verified_at_seconds", "Unix time of the last audit "
                                       "verification", registry=r)
        drift = ["profile", "feature"]
        self.feature_psi = Gauge("studio_feature_drift_psi", "Population stability index of a feature over the "
                                 "drift window against the training reference", drift, registry=r)
        self.feature_ks = Gauge("studio_feature_drift_ks", "Two-sample Kolmogorov-Smirnov statistic of a feature "
                                "against the training reference", drift, registry=r)
        self.score_psi = Gauge("studio_score_drift_psi", "Population stability index of a model's calibrated "
                               "scores against its reference", ["profile", "model"], registry=r)
        self.score_ks = Gauge("studio_score_drift_ks", "Kolmogorov-Smirnov statistic of a model's calibrated "
                              "scores against its reference", ["profile", "model"], registry=r)
        self.anomaly_rate = Gauge("studio_model_window_anomaly_rate", "Share of the drift window a model scored "
                                  "at or above the alert threshold", ["profile", "model"], registry=r)
        self.expected_anomaly_rate = Gauge("studio_model_expected_anomaly_rate", "The share the reference "
                                           "implies", ["profile", "model"], registry=r)
        self.explanations = Counter(
            "studio_explanations_total", "Explanation jobs by outcome: overseer (the LLM's, checked), template "
            "(the LLM's answer failed the governor's checks), failed (LLM unavailable: the template, final), "
            "retry (an attempt failed, tried again later), lost (another worker holds the job)", ["outcome"],
            registry=r)
        self.review_seconds = Histogram("studio_review_seconds", "From an alert's opening to its verdict",
                                        ["profile"], buckets=(60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600,
                                                              86400, 3 * 86400, 7 * 86400), registry=r)
        self.alerts_open = Gauge("studio_alerts_open", "Unresolved alerts (the review queue) by review status",
                                 ["profile", "review_status"], registry=r)
        self.score_quantile = Gauge("studio_model_score_quantile", "Quantiles of a model's calibrated scores "
                                    "over the drift window (its score distribution)", ["profile", "model",
                                                                                        "quantile"], registry=r)
        self.drift_window = Gauge("studio_drift_window_decisions", "Decisions in the drift window", ["profile"],
                                  registry=r)
        self.ops_refreshed_at = Gauge("studio_ops_gauges_refreshed_at_seconds", "Unix time the queue, stream and "
                                      "audit gauges were last refreshed", registry=r)

    def decision(self, profile: str, action: str, count: int = 1) -> None:
        self.decisions.labels(profile, action).inc(count)

    def model_latency(self, profile: str, model: str, status: str, ms: float) -> None:
        self.models.labels(profile, model, status).observe(ms / 1000.0)

    def model_flags(self, profile: str, models: list[str], answered: list[int], flagged: list[int]) -> None:
        for name, a, f in zip(models, answered, flagged, strict=True):
            pair = self._flag_children.get((profile, name))
            if pair is None:  # label look-ups once per model, not per batch
                pair = self._flag_children[(profile, name)] = (self.model_answered.labels(profile, name),
                                                               self.model_flagged.labels(profile, name))
            if a:
                pair[0].inc(a)
            if f:
                pair[1].inc(f)

    def batch(self, profile: str, size: int, seconds: float) -> None:
        self.batch_size.labels(profile).observe(size)
        self.batch_seconds.labels(profile).observe(seconds)

    def set_review_precision(self, rows: list[dict[str, Any]], thresholds: dict[str, float]) -> None:
        """rows: {"profile", "outcome" (1 confirmed, 0 dismissed), "scores": {model: calibrated score}}."""
        counts: dict[tuple[str, str], list[float]] = {}
        for r in rows:
            cut = thresholds.get(r["profile"], 0.5)
            for model, score in r["scores"].items():
                c = counts.setdefault((r["profile"], model), [0.0, 0.0])
                if score >= cut:
                    c[0] += 1.0
                    c[1] += r["outcome"]
        for (profile, model), (flagged, confirmed) in counts.items():
            self.review_flagged.labels(profile, model).set(flagged)
            if flagged:
                self.review_precision.labels(profile, model).set(confirmed / flagged)

    def render(self) -> bytes:
        return generate_latest(self.registry)
