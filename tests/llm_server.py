"""A small OpenAI-compatible chat-completions server on 127.0.0.1 with scripted replies, for tests.

It implements `POST /v1/chat/completions` with and without streaming (server-sent events), tool calls and
structured output (`response_format` of type `json_schema` or `json_object`: the scripted content is returned
as the message content), and `GET /v1/models`. Each test scripts its replies; every request is recorded.

    with ScriptedLLM() as llm:
        llm.script(Reply(json={"verdict": "confirm", ...}), Reply(status=500), Reply(delay_s=5))
        ... point STUDIO_LLM_BASE_URL at llm.base_url ...
        assert llm.requests[0]["body"]["response_format"]["type"] == "json_schema"

A reply is taken in order among those whose `match` (a substring of the request body) fits; a reply may be a
callable that receives the parsed request and returns a Reply, and `When(match, reply)` scripts either for
matching requests only. With nothing left, `default` answers (or a 500).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:12]}")


@dataclass
class Reply:
    """One scripted answer. `json` is serialized into the content; `raw_body` bypasses everything."""

    content: str | None = None
    json: Any = None
    tool_calls: list[ToolCall] | None = None
    status: int = 200
    error: str = "scripted failure"
    delay_s: float = 0.0
    match: str | None = None
    times: int = 1
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    raw_body: bytes | None = None

    def text(self) -> str:
        if self.json is not None:
            return json.dumps(self.json)
        return self.content or ""


@dataclass
class When:
    """A reply (or a function of the request returning one) for requests whose body contains `match`."""

    match: str
    reply: Reply | Callable[[dict[str, Any]], Reply]
    times: int = 1

    def __call__(self, body: dict[str, Any]) -> Reply:
        return self.reply(body) if callable(self.reply) else self.reply


ReplyLike = Reply | When | Callable[[dict[str, Any]], Reply]


class ScriptedLLM:
    """The server; start() binds a free port and serves from a daemon thread."""

    def __init__(self, *, model: str = "scripted-1", api_key: str | None = None,
                 default: ReplyLike | None = None) -> None:
        self.model = model
        self.api_key = api_key
        self.default = default
        self._script: list[list[Any]] = []  # [reply, remaining]
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # -- scripting -------------------------------------------------------------------------------------------
    def script(self, *replies: ReplyLike) -> ScriptedLLM:
        """Replace the script (and forget recorded requests)."""
        with self._lock:
            self._script = [[r, getattr(r, "times", 1)] for r in replies]
            self.requests = []
        return self

    def add(self, *replies: ReplyLike) -> ScriptedLLM:
        with self._lock:
            self._script.extend([r, getattr(r, "times", 1)] for r in replies)
        return self

    @property
    def remaining(self) -> int:
        with self._lock:
            return sum(n for _, n in self._script)

    def wait_requests(self, n: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.02)
        raise TimeoutError(f"expected {n} requests, got {len(self.requests)}")

    def _next(self, raw: str, body: dict[str, Any]) -> Reply:
        with self._lock:
            for item in self._script:
                reply, left = item
                if left <= 0:
                    continue
                match = getattr(reply, "match", None)
                if match is not None and match not in raw:
                    continue
                item[1] -= 1
                break
            else:
                reply = self.default
            self._script = [i for i in self._script if i[1] > 0]
        if reply is None:
            return Reply(status=500, error="no scripted reply left")
        return reply(body) if callable(reply) else reply

    # -- lifecycle ---------------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self.httpd is not None
        return int(self.httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedLLM:
        server = self

        class Handler(_Handler):
            llm = server

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="scripted-llm", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self) -> ScriptedLLM:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _usage(reply: Reply, body: dict[str, Any], text: str) -> dict[str, int]:
    prompt = reply.prompt_tokens
    if prompt is None:
        prompt = max(1, sum(len(str(m.get("content") or "")) for m in body.get("messages", [])) // 4)
    completion = reply.completion_tokens if reply.completion_tokens is not None else max(1, len(text) // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _tool_calls_json(calls: list[ToolCall]) -> list[dict[str, Any]]:
    return [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for c in calls]


class _Handler(BaseHTTPRequestHandler):
    llm: ScriptedLLM
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": self.llm.model, "object": "model"}]})
        else:
            self._send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode()
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            self._send_json(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
            return
        record = {"body": body, "raw": raw, "headers": {k.lower(): v for k, v in self.headers.items()},
                  "at": time.time()}
        with self.llm._lock:
            self.llm.requests.append(record)
        if self.llm.api_key is not None and self.headers.get("authorization") != f"Bearer {self.llm.api_key}":
            self._send_json(401, {"error": {"message": "bad api key", "type": "invalid_request_error"}})
            return
        reply = self.llm._next(raw, body)
        if reply.delay_s:
            time.sleep(reply.delay_s)
        try:
            if reply.raw_body is not None:
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply.raw_body)))
                self.end_headers()
                self.wfile.write(reply.raw_body)
            elif reply.status != 200:
                self._send_json(reply.status, {"error": {"message": reply.error, "type": "server_error"}})
            elif body.get("stream"):
                self._stream(reply, body)
            else:
                self._complete(reply, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def _complete(self, reply: Reply, body: dict[str, Any]) -> None:
        text = reply.text()
        message: dict[str, Any] = {"role": "assistant", "content": None if reply.tool_calls else text}
        if reply.tool_calls:
            message["tool_calls"] = _tool_calls_json(reply.tool_calls)
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        self._send_json(200, {
            "id": f"chatcmpl-{uuid.uuid4().hex[:16]}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", self.llm.model),
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": _usage(reply, body, text),
        })

    def _stream(self, reply: Reply, body: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        cid, created, model = f"chatcmpl-{uuid.uuid4().hex[:16]}", int(time.time()), body.get("model", self.llm.model)

        def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None,
                  choices: bool = True) -> None:
            payload: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created,
                                       "model": model,
                                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
                                       if choices else []}
            if usage is not None:
                payload["usage"] = usage
            self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
            self.wfile.flush()

        text = reply.text()
        chunk({"role": "assistant", "content": ""})
        if reply.tool_calls:
            for i, call in enumerate(reply.tool_calls):
                args = json.dumps(call.arguments)
                half = len(args) // 2
                chunk({"tool_calls": [{"index": i, "id": call.id, "type": "function",
                                       "function": {"name": call.name, "arguments": args[:half]}}]})
                chunk({"tool_calls": [{"index": i, "function": {"arguments": args[half:]}}]})
        else:
            step = max(1, len(text) // 8)
            for k in range(0, len(text), step):
                chunk({"content": text[k:k + step]})
        chunk({}, reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            chunk({}, usage=_usage(reply, body, text), choices=False)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
