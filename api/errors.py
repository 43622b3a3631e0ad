"""One place that maps every error to the envelope {"error": {"code", "message", "details", "request_id"}}."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.responses import FastJSONResponse
from core.errors import ErrorCode, RateLimited, StudioError

log = logging.getLogger(__name__)


def envelope(status: int, code: str, message: str, details: Any, request_id: str | None,
             headers: dict[str, str] | None = None) -> FastJSONResponse:
    body = {"error": {"code": code, "message": message, "details": details, "request_id": request_id}}
    return FastJSONResponse(body, status_code=status, headers=headers)


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _clean_validation(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        item = {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg"), "type": e.get("type")}
        if "input" in e and isinstance(e["input"], (int, float, str)) and not isinstance(e["input"], bool):
            item["input"] = _echo(e["input"])
        out.append(item)
    return out


def _echo(value: float | str) -> float | str:
    """The offending input as the envelope can carry it: an integer beyond 64 bits or a non-finite number as
    (shortened) text, so rendering the 422 can never fail."""
    if isinstance(value, str):
        return value[:100]
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        text = str(value)
        return text if len(text) <= 40 else f"{text[:20]}...({len(text)} digits)"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StudioError)
    async def _studio(request: Request, exc: StudioError) -> FastJSONResponse:
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))} if isinstance(exc, RateLimited) else None
        if exc.code == ErrorCode.UNAUTHENTICATED:
            headers = {"WWW-Authenticate": 'Bearer realm="studio"'}
        return envelope(exc.status, exc.code.value, exc.message, exc.details, request_id_of(request), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> FastJSONResponse:
        return envelope(422, ErrorCode.VALIDATION.value, "request does not match the schema",
                        _clean_validation(list(exc.errors())), request_id_of(request))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> FastJSONResponse:
        code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.UNSUPPORTED, 401: ErrorCode.UNAUTHENTICATED,
                403: ErrorCode.FORBIDDEN, 413: ErrorCode.PAYLOAD_TOO_LARGE}.get(exc.status_code, ErrorCode.VALIDATION)
        return envelope(exc.status_code, code.value, str(exc.detail), None, request_id_of(request),
                        getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> FastJSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return envelope(500, ErrorCode.INTERNAL.value, "internal error", None, request_id_of(request))
