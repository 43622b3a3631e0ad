"""The incident chat: ask a question in a thread (JSON, or server-sent events as the answer is written) and read
a thread's history. The analyst role's `decide` permission; a thread belongs to the key that started it (an
admin sees every thread); every tool call and answer is audited."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Path
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ChatDep, DecideKey, RequestIdDep
from api.openapi import errors
from api.responses import FastJSONResponse
from core.errors import ErrorCode, StudioError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/chat", tags=["chat"])
THREAD_ID = r"^[A-Za-z0-9_\-]{1,64}$"
KEEPALIVE_S = 15.0
_running: set[asyncio.Task[Any]] = set()  # turns whose stream was abandoned finish (and are audited) anyway


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"message": "what happened to USDC between 06:00 and 09:00 on 11 March 2023?"},
        {"thread_id": "thr_01JD...", "message": "why was that decision raised?"}]})
    thread_id: str | None = Field(None, pattern=THREAD_ID, description="continue this thread (omit: a new one)")
    message: str = Field(..., min_length=1, max_length=4000, pattern=r"\S", description="the question (UTC times)")


@router.post("", response_class=FastJSONResponse, responses=errors(400, 404, 413, 503),
             summary="Ask the incident chat: the answer, its citations, the post-check and the tool calls made")
async def ask(body: ChatIn, chat: ChatDep, key: DecideKey) -> Any:
    return FastJSONResponse(await chat.ask(thread_id=body.thread_id, message=body.message, actor=key.actor,
                                                  see_all=key.role == "admin"))


def _envelope(code: ErrorCode, message: str, details: Any, request_id: str) -> dict[str, Any]:
    return {"error": {"code": code.value, "message": message, "details": details, "request_id": request_id}}


def _sse(event: str, data: Any, seq: int) -> bytes:
    return f"event: {event}\nid: {seq}\ndata: {orjson.dumps(data, default=str).decode()}\n\n".encode()


@router.post("/stream", summary="Ask the incident chat, streamed as server-sent events",
             response_class=StreamingResponse,
             responses={**errors(400, 404, 413), 200: {"content": {"text/event-stream": {}},
                              "description": "`tool_call` ({tool, args, status}) after each tool call, `token` "
                                             "({text}) as the answer is written, `check_failed` ({checks, next}) "
                                             "when the text so far failed the post-check, then `answer` (the body "
                                             "of POST /v1/chat) or `error` (the error envelope)"}})
async def ask_stream(body: ChatIn, chat: ChatDep, key: DecideKey, request_id: RequestIdDep) -> Any:
    await chat.check_access(body.thread_id, actor=key.actor, see_all=key.role == "admin")  # 404 before the 200
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def on_token(text: str) -> None:
        queue.put_nowait(("token", {"text": text}))

    async def on_event(event: dict[str, Any]) -> None:
        queue.put_nowait((event.get("type", "event"), {k: v for k, v in event.items() if k != "type"}))

    async def turn() -> None:
        try:
            result = await chat.ask(thread_id=body.thread_id, message=body.message, actor=key.actor,
                                           see_all=key.role == "admin", on_token=on_token, on_event=on_event)
            queue.put_nowait(("answer", result))
        except StudioError as exc:
            queue.put_nowait(("error", _envelope(exc.code, exc.message, exc.details, request_id)))
        except Exception:  # reported in the stream: the 200 and its headers are already sent
            log.exception("chat turn failed")
            queue.put_nowait(("error", _envelope(ErrorCode.INTERNAL, "internal error", None, request_id)))

    task = asyncio.create_task(turn(), name="chat-turn")
    _running.add(task)
    task.add_done_callback(_running.discard)

    async def events() -> AsyncIterator[bytes]:
        seq = 0
        while True:
            try:
                kind, data = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:  # a slow LLM call: keep proxies from closing the connection
                yield b": keep-alive\n\n"
                continue
            seq += 1
            yield _sse(kind, data, seq)
            if kind in ("answer", "error"):
                return

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-cache", "x-accel-buffering": "no"})


@router.get("/{thread_id}", response_class=FastJSONResponse, responses=errors(404),
            summary="A chat thread's history: questions, answers with citations, tool calls and their results")
async def history(chat: ChatDep, key: DecideKey, thread_id: str = Path(..., pattern=THREAD_ID)) -> Any:
    return FastJSONResponse(await chat.history(thread_id, actor=key.actor, see_all=key.role == "admin"))
