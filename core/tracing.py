"""Tracing hooks for every layer: off by default, and then free (each hook is one flag test); on when
studio/tracing.py configures OpenTelemetry (STUDIO_OTEL_ENDPOINT, or a test's in-memory exporter)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

enabled = False  # set by studio.tracing.configure()
_NULL: AbstractContextManager[Any] = nullcontext()


def span(name: str, **attributes: Any) -> AbstractContextManager[Any]:
    """A span as a child of the current one (a no-op context while tracing is off)."""
    if not enabled:
        return _NULL
    from opentelemetry import trace

    return trace.get_tracer("gateway-ml-studio").start_as_current_span(name, attributes=attributes or None)


def current_context() -> Any:
    """The current span's context (to link a batch to the requests it serves), None while tracing is off."""
    if not enabled:
        return None
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    return ctx if ctx.is_valid else None


def batch_span(name: str, links: list[Any], **attributes: Any) -> AbstractContextManager[Any]:
    """A new root span linked to the spans (contexts) of the requests whose events it runs."""
    if not enabled:
        return _NULL
    from opentelemetry import context, trace

    return trace.get_tracer("gateway-ml-studio").start_as_current_span(
        name, context=context.Context(), links=[trace.Link(c) for c in links if c is not None],
        attributes=attributes or None)


def record_span(name: str, start_ns: int, end_ns: int, **attributes: Any) -> None:
    """A finished span with known times, as a child of the current one (work that ran in a pool thread)."""
    if not enabled:
        return
    from opentelemetry import trace

    s = trace.get_tracer("gateway-ml-studio").start_span(name, start_time=start_ns, attributes=attributes or None)
    s.end(end_time=end_ns)


def set_attributes(**attributes: Any) -> None:
    if not enabled:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes(attributes)
