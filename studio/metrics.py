"""Prometheus metrics of one service instance (own registry, so tests can build many instances)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MODEL_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
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

    def decision(self, profile: str, action: str, count: int = 1) -> None:
        self.decisions.labels(profile, action).inc(count)

    def model_latency(self, profile: str, model: str, status: str, ms: float) -> None:
        self.models.labels(profile, model, status).observe(ms / 1000.0)

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
