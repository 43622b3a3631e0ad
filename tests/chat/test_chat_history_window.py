"""What the LLM sees of a long thread: whole recent turns, never a tool call without its result."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from graph.chat import INTERNAL, recent_messages


def turn(k: int, size: int = 10) -> list:
    call = {"name": "stream_history", "args": {"k": k}, "id": f"call_{k}"}
    return [HumanMessage(f"question {k}"), AIMessage("", tool_calls=[call]),
            ToolMessage("x" * size, tool_call_id=f"call_{k}", name="stream_history"), AIMessage(f"answer {k}")]


def test_keeps_whole_recent_turns_within_the_budgets() -> None:
    msgs = [m for k in range(20) for m in turn(k)]
    msgs.append(HumanMessage("question now"))
    out = recent_messages(msgs, turns=3, max_chars=10_000)
    assert isinstance(out[0], HumanMessage) and out[0].content == "question 17"
    assert out[-1].content == "question now" and len(out) == 3 * 4 + 1
    # a size budget drops the oldest turns first, and never splits one
    big = [m for k in range(5) for m in turn(k, size=1000)] + [HumanMessage("question now")]
    out = recent_messages(big, turns=10, max_chars=2_500)
    assert [m.content for m in out if isinstance(m, HumanMessage)] == ["question 3", "question 4", "question now"]
    for i, m in enumerate(out):
        if isinstance(m, ToolMessage):
            assert out[i - 1].tool_calls[0]["id"] == m.tool_call_id


def test_the_current_turn_is_always_sent_whole_and_internal_notes_do_not_start_turns() -> None:
    current = [HumanMessage("question now"), *turn(99, size=100_000)[1:],
               HumanMessage("your answer failed the checks", additional_kwargs={INTERNAL: True})]
    msgs = [*turn(1), *current]
    assert recent_messages(msgs, turns=8, max_chars=1_000) == current
    assert recent_messages(msgs, turns=0) == current
    assert recent_messages([AIMessage("hello")]) == [AIMessage("hello")]
