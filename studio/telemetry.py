"""OpenTelemetry set-up: a span per request (FastAPI instrumentation, hot routes included), per micro-batch
(linked to the requests whose events it runs), per graph step, per model tool, per database statement
(SQLAlchemy instrumentation), per explanation job and per LLM call, and HTTP client spans of httpx (webhooks,
probes); the decision ids are attributes of the persist step. OTLP over HTTP to STUDIO_OTEL_ENDPOINT;
off when it is unset, and then the hooks (core/tracing.py) cost one flag test each."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine

from core import tracing
from core.settings import Settings

log = logging.getLogger(__name__)
_instrumented: set[int] = set()


def configure(settings: Settings, exporter: Any = None) -> bool:
    """Turn tracing on when STUDIO_OTEL_ENDPOINT is set (or an exporter is given: tests); True if on."""
    if tracing.enabled:
        return True
    if exporter is None and not settings.otel_endpoint:
        return False
    from opentelemetry import trace
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": settings.otel_service_name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otel_endpoint)))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument()  # the LLM client's calls, webhooks, readiness probes
    tracing.enabled = True
    log.info("tracing on: OTLP to %s", settings.otel_endpoint or "a test exporter")
    return True


def instrument_engine(engine: Engine) -> None:
    """A span per statement on this engine (no-op while tracing is off)."""
    if not tracing.enabled or id(engine) in _instrumented:
        return
    from opentelemetry import metrics, trace
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    # The instrumentation's EngineTracer (cursor-event listeners, unchanged in SQLAlchemy 2.1) on this engine;
    # not SQLAlchemyInstrumentor().instrument(), whose declared range stops below 2.1 and which also patches
    # the asyncio engine (greenlet, which the service does not use).
    usage = metrics.get_meter("gateway-ml-studio").create_up_down_counter(
        "db.client.connections.usage", unit="connections", description="connections in use")
    EngineTracer(trace.get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine, usage)
    _instrumented.add(id(engine))


def instrument_app(app: Any) -> None:
    """A span per HTTP request, outermost, so the hot decision routes are traced too."""
    if not tracing.enabled:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="/metrics,/v1/health/live")
