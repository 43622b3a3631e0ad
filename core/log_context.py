"""What a log line is about, carried in context variables so every record emitted while handling it has it:
the request id (set by the request middleware), the calling API key's id (set by the auth gate, never the key
itself) and the decision id (set around explanation jobs and replays). studio/logging.py adds them to every
record, with the OpenTelemetry trace id when a span is active."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
key_id: ContextVar[str | None] = ContextVar("key_id", default=None)
decision_id: ContextVar[str | None] = ContextVar("decision_id", default=None)
