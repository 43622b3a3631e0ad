"""The scripted OpenAI-compatible test server, driven by the real langchain-openai client: plain and streamed
completions, tool calls (plain and streamed), structured output, errors, usage and the API key header."""

from __future__ import annotations

import pytest
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from policies.llm_schemas import Verdict, response_schema
from tests.llm_server import Reply, ScriptedLLM, ToolCall

# langchain-openai shares one async HTTP client per endpoint: keep the module on one event loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@tool
def lookup_decision(decision_id: str) -> str:
    """Look a decision up by id."""
    return decision_id


@pytest.fixture(scope="module")
def llm():  # type: ignore[no-untyped-def]
    with ScriptedLLM(api_key="sk-test-key") as server:
        yield server


def chat(llm: ScriptedLLM, **kw) -> ChatOpenAI:  # type: ignore[no-untyped-def]
    return ChatOpenAI(model="scripted-1", base_url=llm.base_url, api_key=kw.pop("api_key", "sk-test-key"),
                      max_retries=0, timeout=kw.pop("timeout", 5), use_responses_api=False, **kw)


async def test_plain_and_streamed_completions_with_usage(llm: ScriptedLLM) -> None:
    llm.script(Reply(content="plain answer", prompt_tokens=11, completion_tokens=3), Reply(content="streamed answer"))
    m = await chat(llm).ainvoke("hi")
    assert m.content == "plain answer" and m.usage_metadata["input_tokens"] == 11
    text, usage = "", None
    async for c in chat(llm).astream("hi", stream_usage=True):
        text += c.content
        usage = c.usage_metadata or usage
    assert text == "streamed answer" and usage and usage["output_tokens"] > 0
    assert llm.requests[1]["body"]["stream"] is True
    assert llm.requests[0]["headers"]["authorization"] == "Bearer sk-test-key"


async def test_tool_calls_plain_and_streamed(llm: ScriptedLLM) -> None:
    llm.script(Reply(tool_calls=[ToolCall("lookup_decision", {"decision_id": "dec_1"})]),
               Reply(tool_calls=[ToolCall("lookup_decision", {"decision_id": "dec_2"})]))
    bound = chat(llm).bind_tools([lookup_decision])
    m = await bound.ainvoke("what happened?")
    assert m.tool_calls[0]["name"] == "lookup_decision" and m.tool_calls[0]["args"] == {"decision_id": "dec_1"}
    acc = None
    async for c in bound.astream("and then?"):
        acc = c if acc is None else acc + c
    assert acc is not None and acc.tool_calls[0]["args"] == {"decision_id": "dec_2"}
    assert llm.requests[0]["body"]["tools"][0]["function"]["name"] == "lookup_decision"


async def test_structured_output_and_matching(llm: ScriptedLLM) -> None:
    good = {"verdict": "confirm", "confidence": 0.7, "trusted_models": [], "rationale": "ok", "requested_action": None}
    llm.script(Reply(content="not for this request", match="nothing-matches-this"), Reply(json=good))
    s = chat(llm).with_structured_output(response_schema(Verdict), method="json_schema", include_raw=True)
    out = await s.ainvoke("judge")
    assert out["parsed"] == good and llm.remaining == 1
    rf = llm.requests[0]["body"]["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["name"] == "overseer_verdict"


async def test_errors_timeouts_and_a_wrong_key(llm: ScriptedLLM) -> None:
    import openai

    llm.script(Reply(status=500), Reply(delay_s=1.5, content="late"))
    with pytest.raises(openai.InternalServerError):
        await chat(llm).ainvoke("x")
    with pytest.raises(openai.APITimeoutError):
        await chat(llm, timeout=0.3).ainvoke("x")
    with pytest.raises(openai.AuthenticationError):
        await chat(llm, api_key="wrong").ainvoke("x")
    llm.script()
    with pytest.raises(openai.InternalServerError, match="no scripted reply"):
        await chat(llm).ainvoke("x")
