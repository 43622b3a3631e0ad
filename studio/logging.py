"""Logging set-up: text (one line per record) or JSON (STUDIO_LOG_FORMAT=json, python-json-logger), both with
the request id, API key id, decision id and trace id of what the record is about (core/log_context.py); the
server's own lines (uvicorn's, access log included) go through the same handler. No secrets: settings never
log the LLM key, and a key is logged by its id only."""

from __future__ import annotations

import logging
import sys
import warnings

from pythonjsonlogger.json import JsonFormatter

from core import log_context

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s [request_id=%(request_id)s key_id=%(key_id)s]"
JSON_FIELDS = ("asctime", "levelname", "name", "message", "request_id", "key_id", "decision_id", "trace_id")


def _trace_id() -> str | None:
    try:
        from opentelemetry import trace
    except ImportError:  # tracing not installed
        return None
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


class ContextFilter(logging.Filter):
    """Adds the context of the record (request, key, decision, trace) as attributes every formatter can use."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = log_context.request_id.get()
        record.key_id = log_context.key_id.get()
        record.decision_id = log_context.decision_id.get()
        record.trace_id = _trace_id()
        return True


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(list(JSON_FIELDS), rename_fields={"asctime": "time", "levelname": "level",
                                                                "name": "logger"}, timestamp=False)
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """The root logger's one handler (stderr); uvicorn's loggers propagate to it (studio serve passes
    log_config=None to uvicorn)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    for noisy in ("cmdstanpy", "prophet", "httpx", "httpcore", "httpx2", "openai", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "plotly missing" is not our concern
    warnings.filterwarnings("ignore", module="sklearn.utils.parallel")
