"""ASGI middleware: X-Request-ID on every response, a body-size limit, and request latency metrics."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson

from core import log_context

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestContextMiddleware:
    """Pure ASGI (no per-request task hop): cheap enough to wrap every request."""

    def __init__(self, app: Any, *, max_body_bytes: int, metrics: Any = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        log_context.request_id.set(request_id)  # every log line of this request carries it
        start = time.perf_counter()
        status_holder = {"status": 500}
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], id_header]
            await send(message)

        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await self._too_large(send_with_id, request_id)
        else:
            received = 0
            too_large = False

            async def limited_receive() -> dict[str, Any]:
                nonlocal received, too_large
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        too_large = True
                        raise BodyTooLarge()
                return message

            try:
                await self.app(scope, limited_receive, send_with_id)
            except BodyTooLarge:
                await self._too_large(send_with_id, request_id)
        if self.metrics is not None:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], path, str(status_holder["status"])).observe(
                time.perf_counter() - start)

    async def _too_large(self, send: Any, request_id: str) -> None:
        body = orjson.dumps({"error": {"code": "payload_too_large",
                                       "message": f"request body larger than {self.max_body_bytes} bytes",
                                       "details": {"limit_bytes": self.max_body_bytes}, "request_id": request_id}})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    """Raised from receive() once the body passes the limit; this middleware answers 413."""
