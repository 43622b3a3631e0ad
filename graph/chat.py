"""The incident chat: a tool-calling agent on LangGraph over the read-only tools, a deterministic post-check of
every answer (cited ids exist, numbers are in tool results), and, without an LLM, documented intents answered
deterministically. Threads live on the checkpointer, so a conversation resumes after a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.runtime import Runtime

from core.llm_calls import LlmUnavailable
from graph import chat_intents
from policies.chat_checks import check_answer, cited
from policies.llm_checks import Check
from tools.base import StudioTool

MAX_RESULT_CHARS = 12_000
INTERNAL = "studio_internal"


class ChatState(MessagesState):
    turn: dict[str, Any]


@dataclass
class ChatContext:
    tools: dict[str, StudioTool]
    provider: Any  # studio.llm.LlmProvider or None
    prompt: Any  # prompts.Prompt ("chat")
    profiles: list[str]
    exists: Callable[[str], bool]
    streams: Callable[[], Awaitable[list[tuple[str, str]]]]
    stream_years: Callable[[str, str], Awaitable[list[int]]]
    on_token: Callable[[str], Awaitable[None]] | None = None
    on_event: Callable[[dict[str, Any]], Awaitable[None]] | None = None


MAX_ROUNDS = 6  # tool-calling rounds per turn


async def run_tool(ctx: ChatContext, name: str, args: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Call one read tool; the result and a log entry (refusals and errors are results, never exceptions)."""
    start = time.perf_counter()
    tool = ctx.tools.get(name)
    status = "ok"
    if tool is None:
        result: Any = {"error": f"no tool {name!r}"}
        status = "unknown_tool"
    else:
        try:
            result = await tool.ainvoke(args)
        except Exception as exc:  # bad arguments or a failing look-up: the model sees the error
            result, status = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}, "error"
    if isinstance(result, dict) and "refused" in result:
        status = "refused"
    entry = {"tool": name, "args": args, "status": status, "ms": round((time.perf_counter() - start) * 1000, 2),
             "result": result}
    if ctx.on_event is not None:
        await ctx.on_event({"type": "tool_call", "tool": name, "args": args, "status": status})
    return result, entry


def _text(msg: AnyMessage) -> str:
    c = msg.content
    return c if isinstance(c, str) else "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in c)


def thread_evidence(state: ChatState) -> list[Any]:
    """Every tool result of the conversation so far (a follow-up may rest on an earlier turn's look-up)."""
    out: list[Any] = []
    for m in state["messages"]:
        if isinstance(m, ToolMessage):
            try:
                out.append(orjson.loads(_text(m)))
            except orjson.JSONDecodeError:
                out.append(_text(m))
    return out


def _question(state: ChatState) -> str:
    for m in reversed(state["messages"]):
        if isinstance(m, HumanMessage) and not m.additional_kwargs.get(INTERNAL):
            return _text(m)
    return ""


async def start(state: ChatState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
    mode = "llm" if runtime.context.provider is not None else "intents"
    return {"turn": {"question": _question(state), "tool_log": [], "checks": [], "attempts": 0, "rounds": 0,
                     "mode": mode, "llm_calls": []}}


def after_start(state: ChatState) -> Literal["agent", "intents"]:
    return "agent" if state["turn"]["mode"] == "llm" else "intents"


HISTORY_TURNS = 8  # earlier questions (with their tool calls and answers) sent along with a new one
HISTORY_CHARS = 48_000  # and at most about this much of their text; the current turn is always sent whole


def recent_messages(messages: list[Any], *, turns: int = HISTORY_TURNS, max_chars: int = HISTORY_CHARS) -> list[Any]:
    """What the LLM sees of a long thread: whole recent turns (a turn starts at a person's question, so a tool
    call is never separated from its result), newest first until the turn or size budget is spent."""
    starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage) and not m.additional_kwargs.get(INTERNAL)]
    if not starts:
        return list(messages)
    keep_from, size = starts[-1], sum(len(_text(m)) for m in messages[starts[-1]:])
    earlier = list(zip(starts[:-1], starts[1:], strict=True))[-turns:] if turns > 0 else []
    for start, end in reversed(earlier):
        size += sum(len(_text(m)) for m in messages[start:end])
        if size > max_chars:
            break
        keep_from = start
    return list(messages[keep_from:])


async def agent(state: ChatState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
    ctx = runtime.context
    turn = dict(state["turn"])
    system, _ = ctx.prompt.render(profiles=", ".join(ctx.profiles), today=datetime.now(UTC).strftime("%Y-%m-%d"),
                                  question="")
    lc_tools = [t.as_langchain() for t in ctx.tools.values()]
    try:
        ai, call = await ctx.provider.tool_turn(purpose="chat",
                                                messages=[SystemMessage(system), *recent_messages(state["messages"])],
                                                tools=lc_tools, on_token=ctx.on_token)
    except LlmUnavailable as exc:
        turn["llm_calls"] = [*turn["llm_calls"], exc.call.to_json()]
        turn["mode"] = "llm_unavailable"
        return await _by_intents(ctx, turn, f"The LLM endpoint did not answer ({exc.reason}); answering without it. ")
    turn["llm_calls"] = [*turn["llm_calls"], call.to_json()]
    return {"messages": [ai], "turn": turn}


def after_agent(state: ChatState) -> Literal["tools", "check", "done"]:
    last = state["messages"][-1]
    if state["turn"]["mode"] == "llm_unavailable":
        return "done"
    if isinstance(last, AIMessage) and last.tool_calls and state["turn"]["rounds"] < MAX_ROUNDS:
        return "tools"
    return "check"


def _caller(ctx: ChatContext, turn: dict[str, Any]) -> Callable[[str, dict[str, Any]], Awaitable[Any]]:
    async def call(name: str, args: dict[str, Any]) -> Any:
        result, entry = await run_tool(ctx, name, args)
        turn["tool_log"] = [*turn["tool_log"], entry]
        return result

    return call


async def tools(state: ChatState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
    ctx = runtime.context
    turn = dict(state["turn"])
    last = state["messages"][-1]
    assert isinstance(last, AIMessage)
    out = []
    for tc in last.tool_calls:
        result = await _caller(ctx, turn)(tc["name"], tc.get("args") or {})
        content = orjson.dumps(result, default=str, option=orjson.OPT_SERIALIZE_NUMPY).decode()
        out.append(ToolMessage(content[:MAX_RESULT_CHARS], tool_call_id=tc["id"], name=tc["name"]))
    turn["rounds"] += 1
    return {"messages": out, "turn": turn}


def _fallback(state: ChatState, ctx: ChatContext, why: str) -> AIMessage:
    """The plain statement that replaces an answer that failed its checks twice: the records the tools returned
    (only ids that exist: an id written in an event's text is data, not a record)."""
    seen = list(dict.fromkeys(i for e in thread_evidence(state) for i in cited(str(e))))[-40:]
    ids = [i for i in seen if ctx.exists(i)][-12:]
    text = (f"I could not give an answer that passes the service's checks ({why}). "
            + (f"The tools returned these records: {', '.join(ids)}." if ids else "The tools returned nothing to cite."))
    return AIMessage(text, additional_kwargs={"studio_fallback": True})


async def check(state: ChatState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
    ctx = runtime.context
    turn = dict(state["turn"])
    last = state["messages"][-1]
    if isinstance(last, AIMessage) and last.tool_calls:  # the round budget is spent with calls still asked for
        turn.update(fallback=True, checks=[Check("tool_rounds", False, f"more than {MAX_ROUNDS} rounds of tool "
                                                 "calls").to_json()])
        unanswered = [ToolMessage('{"error": "not run: this turn used up its tool calls"}', tool_call_id=tc["id"],
                                  name=tc["name"]) for tc in last.tool_calls]  # keeps the thread valid for the API
        if ctx.on_event is not None:
            await ctx.on_event({"type": "check_failed", "checks": turn["checks"], "next": "fallback"})
        return {"messages": [*unanswered, await asyncio.to_thread(_fallback, state, ctx, "too many tool calls")],
                "turn": turn}
    answer = _text(last)
    checks = [Check("answer_not_empty", bool(answer.strip()), "" if answer.strip() else "the answer is empty"),
              *await asyncio.to_thread(check_answer, answer, thread_evidence(state), turn["question"], ctx.exists)]
    turn["checks"] = [c.to_json() for c in checks]
    failed = [c for c in checks if not c.ok]
    if not failed:
        return {"turn": turn}
    retry = turn["attempts"] == 0
    if ctx.on_event is not None:  # what was streamed so far is void
        await ctx.on_event({"type": "check_failed", "checks": turn["checks"], "next": "retry" if retry else "fallback"})
    if retry:
        turn["attempts"] = 1
        reason = "; ".join(c.detail for c in failed)
        note = HumanMessage(f"Your answer failed the service's checks: {reason}. Answer again using only what the "
                            "tools returned; cite only ids they returned.", additional_kwargs={INTERNAL: True})
        return {"messages": [note], "turn": turn}
    turn["fallback"] = True
    fallback = await asyncio.to_thread(_fallback, state, ctx, "every number from a tool result, every id real")
    return {"messages": [fallback], "turn": turn}


def after_check(state: ChatState) -> Literal["agent", "done"]:
    last = state["messages"][-1]
    return "agent" if isinstance(last, HumanMessage) and last.additional_kwargs.get(INTERNAL) else "done"


async def _by_intents(ctx: ChatContext, turn: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Answer from the deterministic intents, checked like any answer (the help text is canned, not evidence)."""
    answer = await chat_intents.answer(turn["question"], _caller(ctx, turn), await ctx.streams(), datetime.now(UTC),
                                       ctx.stream_years)
    text = prefix + answer.text
    checks = ([] if answer.intent == "help" else
              await asyncio.to_thread(check_answer, text, [e["result"] for e in turn["tool_log"]], turn["question"],
                                      ctx.exists))
    turn.update(intent=answer.intent, checks=[c.to_json() for c in checks])
    if ctx.on_token is not None:
        await ctx.on_token(text)
    return {"messages": [AIMessage(text)], "turn": turn}


async def intents(state: ChatState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
    return await _by_intents(runtime.context, dict(state["turn"]))


def build_chat_graph(checkpointer: Any) -> Any:
    g = StateGraph(ChatState, context_schema=ChatContext)
    for name, fn in (("start", start), ("agent", agent), ("tools", tools), ("check", check), ("intents", intents)):
        g.add_node(name, fn)
    g.add_edge(START, "start")
    g.add_conditional_edges("start", after_start)
    g.add_conditional_edges("agent", after_agent, {"tools": "tools", "check": "check", "done": END})
    g.add_edge("tools", "agent")
    g.add_conditional_edges("check", after_check, {"agent": "agent", "done": END})
    g.add_edge("intents", END)
    return g.compile(checkpointer=checkpointer, name="chat")
