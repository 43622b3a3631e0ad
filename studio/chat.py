"""The chat service: threads on a checkpointer, one turn at a time per thread, every tool call audited."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from sqlalchemy import Engine, select

from core.errors import NotFound, ValidationFailed
from core.settings import Settings
from graph.chat import INTERNAL, ChatContext, build_chat_graph
from policies.chat_checks import cited
from prompts import load_prompt, parse_pins
from store import chat_threads
from store.audit import AuditRecord, append
from store.chat_queries import known_streams, stream_days
from store.engine import write_tx
from store.ids import new_id
from store.tables import AlertRow, AuditEventRow, DecisionRow, FeedbackRow, WatchlistEntryRow
from studio.checkpointer import open_checkpointer
from studio.llm import LlmProvider
from tools.base import StudioTool

REFUSED = ("refused", "unknown_tool")  # a statement the guard refused; a tool that does not exist
_ID_TABLES = {"dec": DecisionRow, "alr": AlertRow, "fbk": FeedbackRow, "wl": WatchlistEntryRow}


class ChatService:
    def __init__(self, settings: Settings, engine: Engine, profiles: list[str], tools: list[StudioTool], *,
                 provider: Callable[[], LlmProvider | None] | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.profiles = sorted(profiles)
        self._provider = provider
        pins = parse_pins(settings.prompt_versions)
        self.prompt = load_prompt("chat", pins.get("chat"), settings.prompts_dir)
        self.tools = {t.name: t for t in tools}
        self._stack = contextlib.AsyncExitStack()
        self.graph: Any = None
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def start(self) -> None:
        settings = self.settings.model_copy(update={"review_checkpoint_path": self.settings.var_dir / "chat.db"})
        saver = await self._stack.enter_async_context(open_checkpointer(settings))
        self.graph = build_chat_graph(saver)

    async def stop(self) -> None:
        await self._stack.aclose()

    @property
    def provider(self) -> LlmProvider | None:
        return self._provider() if self._provider is not None else None

    # -- look-ups the graph needs -------------------------------------------------------------------------------
    def exists(self, ident: str) -> bool:
        engine = self.engine
        value: int | str
        if ident.startswith("audit#"):
            table, col, value = AuditEventRow.__table__, "seq", int(ident[6:])  # type: ignore[attr-defined]
        else:
            model = _ID_TABLES.get(ident.split("_", 1)[0])
            if model is None:
                return False
            table, col, value = model.__table__, "id", ident  # type: ignore[attr-defined]
        with engine.connect() as conn:
            return conn.execute(select(table.c[col]).where(table.c[col] == value)).first() is not None

    async def streams(self) -> list[tuple[str, str]]:
        return await asyncio.to_thread(known_streams, self.engine)

    async def stream_years(self, profile: str, stream: str) -> list[int]:
        from datetime import UTC, datetime

        lo, hi = await asyncio.to_thread(stream_days, self.engine, profile, stream)
        if lo is None or hi is None:
            return []
        return list(range(datetime.fromtimestamp(lo, UTC).year, datetime.fromtimestamp(hi, UTC).year + 1))

    # -- turns -------------------------------------------------------------------------------------------------
    async def ask(self, *, thread_id: str | None, message: str, actor: str, see_all: bool = False,
                  on_token: Callable[[str], Awaitable[None]] | None = None,
                  on_event: Callable[[dict[str, Any]], Awaitable[None]] | None = None) -> dict[str, Any]:
        """One turn. The key that starts a thread owns it; another key (unless see_all: an admin) is told the
        thread does not exist."""
        message = message.strip()
        if not message:
            raise ValidationFailed("message is empty")
        thread_id = thread_id or new_id("thr")
        owner = await asyncio.to_thread(chat_threads.claim, self.engine, thread_id, actor)
        if owner != actor and not see_all:
            raise NotFound(f"no chat thread {thread_id!r}")
        ctx = ChatContext(tools=self.tools, provider=self.provider, prompt=self.prompt,
                          profiles=self.profiles, exists=self.exists, streams=self.streams,
                          stream_years=self.stream_years, on_token=on_token, on_event=on_event)
        lock = self._locks.get(thread_id)
        if lock is None:
            lock = self._locks[thread_id] = asyncio.Lock()
        async with lock:
            out = await self.graph.ainvoke({"messages": [HumanMessage(message)]}, config=_config(thread_id),
                                           context=ctx)
        turn = out["turn"]
        answer = _content(out["messages"][-1])
        result = {"thread_id": thread_id, "answer": answer, "citations": cited(answer),
                  "provider": "llm" if turn["mode"] == "llm" else "deterministic",
                  "mode": turn["mode"], "intent": turn.get("intent"), "checks": turn["checks"],
                  "fallback": bool(turn.get("fallback")), "llm_calls": turn["llm_calls"],
                  "tool_calls": [{k: e[k] for k in ("tool", "args", "status", "ms")} for e in turn["tool_log"]]}
        await asyncio.to_thread(self._audit, thread_id, actor, message, result)
        return result

    def _audit(self, thread_id: str, actor: str, message: str, result: dict[str, Any]) -> None:
        records = [AuditRecord(actor, "chat.tool_refused" if c["status"] in REFUSED else "chat.tool_call", "chat",
                               thread_id, {"tool": c["tool"], "args": c["args"], "status": c["status"], "ms": c["ms"]})
                   for c in result["tool_calls"]]
        records.append(AuditRecord(actor, "chat.answered", "chat", thread_id, {
            "question_sha256": hashlib.sha256(message.encode()).hexdigest(), "mode": result["mode"],
            "citations": result["citations"], "checks": result["checks"], "fallback": result["fallback"],
            "tool_calls": len(result["tool_calls"])}))
        with write_tx(self.engine) as conn:
            append(conn, records)

    async def check_access(self, thread_id: str | None, *, actor: str, see_all: bool = False) -> None:
        """NotFound when the thread exists and belongs to another key (checked before a stream starts)."""
        if thread_id and not see_all:
            owner = await asyncio.to_thread(chat_threads.owner_of, self.engine, thread_id)
            if owner is not None and owner != actor:
                raise NotFound(f"no chat thread {thread_id!r}")

    async def history(self, thread_id: str, *, actor: str, see_all: bool = False) -> dict[str, Any]:
        owner = await asyncio.to_thread(chat_threads.owner_of, self.engine, thread_id)
        if owner is None or (owner != actor and not see_all):
            raise NotFound(f"no chat thread {thread_id!r}")
        snap = await self.graph.aget_state(_config(thread_id))
        messages = (snap.values or {}).get("messages") if snap else None
        if not messages:
            raise NotFound(f"no chat thread {thread_id!r}")
        out: list[dict[str, Any]] = []
        for m in messages:
            if isinstance(m, HumanMessage) and not m.additional_kwargs.get(INTERNAL):
                out.append({"role": "user", "content": _content(m)})
            elif isinstance(m, AIMessage):
                if m.tool_calls:
                    out.append({"role": "assistant", "tool_calls": [{"tool": t["name"], "args": t["args"]}
                                                                    for t in m.tool_calls]})
                if _content(m):
                    out.append({"role": "assistant", "content": _content(m), "citations": cited(_content(m))})
            elif isinstance(m, ToolMessage):
                out.append({"role": "tool", "tool": m.name, "content": _content(m)[:2000]})
        return {"thread_id": thread_id, "messages": out}


def _config(thread_id: str) -> dict[str, Any]:
    """Chat threads are keyed apart from review threads (on PostgreSQL both live in the same checkpoint tables,
    and a review thread's key is its alert id: a chat must never load or extend one)."""
    return {"configurable": {"thread_id": f"chat:{thread_id}"}}


def _content(m: Any) -> str:
    c = m.content
    return c if isinstance(c, str) else "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in c)
