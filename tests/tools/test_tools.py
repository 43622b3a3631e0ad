"""Every model, SLM, the router and the audit look-ups are tools with a name, a description, a pydantic args
schema and an async call, accepted by LangGraph's ToolNode exactly as an LLM's tool call would invoke them."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from pydantic import BaseModel


@pytest.fixture
async def studio(settings):  # type: ignore[no-untyped-def]
    from studio.bootstrap import build_studio, start, stop

    st = build_studio(settings, train=False)
    await start(st)
    yield st
    await stop(st)


async def test_every_tool_is_well_formed(studio) -> None:  # type: ignore[no-untyped-def]
    rt = studio.runtimes["peg"]
    names = {t.name for t in rt.tools.all()}
    assert {f"peg_{m}" for m in rt.profile.models.all()} <= names
    assert {"peg_math", "peg_policy", "peg_sql_watchlist", "peg_router", "audit_decision", "audit_events"} <= names
    for t in rt.tools.all():
        assert t.description and issubclass(t.args_schema, BaseModel)
        assert t.args_schema.model_json_schema()["type"] == "object"
        lc = t.as_langchain()
        assert lc.name == t.name and lc.coroutine is not None


async def test_tool_node_runs_model_slm_router_and_audit_tools(studio) -> None:  # type: ignore[no-untyped-def]
    from core.events import Event

    rt = studio.runtimes["peg"]
    [d] = await studio.runner.decide([Event(profile="peg", stream="tools", ts=1_700_000_000.0, value=0.975,
                                            features={}, context={"token": "USDC"})])
    calls = [
        {"name": "peg_isolation_forest", "args": {"events": [{"stream": "tools", "value": 0.9}]}, "id": "c1"},
        {"name": "peg_policy", "args": {"events": [{"stream": "tools", "value": 0.97}]}, "id": "c2"},
        {"name": "peg_router", "args": {"decision_id": d["id"]}, "id": "c3"},
        {"name": "audit_decision", "args": {"decision_id": d["id"]}, "id": "c4"},
        {"name": "audit_events", "args": {"subject_id": d["id"]}, "id": "c5"},
    ]
    g = StateGraph(MessagesState)
    g.add_node("tools", ToolNode([t.as_langchain() for t in rt.tools.all()]))
    g.add_edge(START, "tools")
    g.add_edge("tools", END)
    out = await g.compile().ainvoke({"messages": [AIMessage(content="", tool_calls=calls)]})
    by_id = {m.tool_call_id: m.content for m in out["messages"][1:]}
    assert json.loads(by_id["c1"])[0]["model"] == "isolation_forest" if by_id["c1"].startswith("[") else (
        "isolation_forest" in by_id["c1"])
    assert "peg.hard_depeg" in by_id["c2"]
    assert d["router"]["arm"] in by_id["c3"] and "would_choose_now" in by_id["c3"]
    assert d["id"] in by_id["c4"] and "peg.hard_depeg" in by_id["c4"]
    assert "decision.recorded" in by_id["c5"]
    # scoring through a tool never changes the stream
    st = rt.streams.get_many(["tools"])["tools"]
    assert st.n_seen == 1


async def test_tool_args_are_validated(studio) -> None:  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    tool = studio.runtimes["peg"].tools.get("peg_math")
    with pytest.raises(ValidationError):
        await tool.ainvoke({"events": [{"value": "not a number"}]})
    res = await tool.ainvoke({"events": [{"stream": "x", "value": 0.98}]})
    assert res[0]["quantities"]["abs_deviation"] == pytest.approx(0.02)
