"""GET /v1/decisions/{id}/explanation and its server-sent-events stream."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import OverseerDep, ReadKey
from api.openapi import errors
from api.responses import FastJSONResponse
from core.errors import NotFound

router = APIRouter(prefix="/v1", tags=["explanations"])
FIELDS = ("provider", "model", "text", "notice", "verdict", "cited_models", "checks", "governor_overrode_llm",
          "prompt_versions", "usage", "error", "completed_at")
JOB_FIELDS = ("id", "status", "reason", "attempts", "max_attempts", "run_at", "last_error", "created_at",
              "finished_at")
KEEPALIVE_S = 15.0


def view(decision_id: str, state: dict[str, Any]) -> dict[str, Any]:
    """The public shape: status pending | ready | failed, the text, the verdict and every governor check."""
    exp, job = state["explanation"], state["job"]
    status = exp.get("status", "ready")
    return {"decision_id": decision_id, "status": "ready" if status == "template" else status,
            **{k: exp.get(k) for k in FIELDS},
            "job": {k: job[k] for k in JOB_FIELDS} if job else None,
            "href": f"/v1/decisions/{decision_id}/explanation",
            "stream_href": f"/v1/decisions/{decision_id}/explanation/stream"}


@router.get("/decisions/{decision_id}/explanation", response_class=FastJSONResponse, responses=errors(404),
            summary="A decision's explanation: pending, ready or failed, with the overseer's verdict and the checks")
async def read_explanation(decision_id: str, overseer: OverseerDep, key: ReadKey) -> Any:
    state = await overseer.read(decision_id)
    if state is None:
        raise NotFound(f"no decision {decision_id!r}")
    return FastJSONResponse(view(decision_id, state))


def _sse(event: str, data: Any, seq: int) -> bytes:
    return f"event: {event}\nid: {seq}\ndata: {orjson.dumps(data).decode()}\n\n".encode()


@router.get("/decisions/{decision_id}/explanation/stream", summary="Server-sent events until the explanation is final",
            response_class=StreamingResponse,
            responses={**errors(404), 200: {"content": {"text/event-stream": {}},
                             "description": "events `explanation` (on every change), then `done` or `timeout`"}})
async def stream_explanation(decision_id: str, overseer: OverseerDep, key: ReadKey,
                             timeout_ms: int = Query(60_000, ge=0, le=3_600_000,
                                                     description="give up after this long")) -> Any:
    first = await overseer.read(decision_id)
    if first is None:
        raise NotFound(f"no decision {decision_id!r}")

    async def events() -> AsyncIterator[bytes]:
        seq, last, last_sent = 0, None, time.monotonic()
        final = None
        async for state in overseer.watch(decision_id, overseer.wait_cap_s(timeout_ms)):
            if state is None:
                break
            body = view(decision_id, state)
            if body != last:
                seq += 1
                last, last_sent = body, time.monotonic()
                yield _sse("explanation", body, seq)
            elif time.monotonic() - last_sent > KEEPALIVE_S:
                last_sent = time.monotonic()
                yield b": keep-alive\n\n"
            final = body
        done = final is not None and final["status"] in ("ready", "failed")
        yield _sse("done" if done else "timeout", {"status": final["status"] if final else None}, seq + 1)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-cache", "x-accel-buffering": "no"})
