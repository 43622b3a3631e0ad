"""The chat on PostgreSQL: LLM-written SQL over the PostgreSQL views (the READ ONLY transaction and statement
timeout under them: tests/chat/test_sql_guard.py), refusals audited, chat threads kept apart from review threads
in the shared checkpoint tables, and a thread that continues after a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from tests.chat.conftest import LLM_KEY, all_ok, ask, chat_audit, chat_env, replay_usdc, start_stack
from tests.chat.conftest import wait_alerts_triaged as triaged
from tests.llm_server import Reply, ScriptedLLM, ToolCall

SQL = "SELECT action, count(*) AS n, min(value) AS low FROM chat_decisions WHERE stream = 'USDC' GROUP BY action"


def test_chat_on_postgresql(pg_url: str, trained_var: Path, tmp_path: Path, usdc: pd.DataFrame) -> None:
    day = usdc[usdc["hour_utc"].str.startswith("2023-03-11")]
    low = float(day["close"].min())

    def answer(body: dict[str, Any]) -> Reply:
        rows = next(json.loads(m["content"]) for m in body["messages"] if m["role"] == "tool")["rows"]
        return Reply(content="; ".join(f"{a}: {n} decisions, lowest {v}" for a, n, v in rows))

    with ScriptedLLM(api_key=LLM_KEY) as llm:
        stack = start_stack(chat_env(tmp_path, trained_var, llm, STUDIO_DATABASE_URL=pg_url,
                                     STUDIO_REVIEW_EXPLANATION_WAIT_S="0"))  # explanations stay pending here
        try:
            with stack.client("admin") as c:
                replay_usdc(c, day)
                alert = next(a for a in triaged(c) if a["action"] == "critical")
                waiting = c.get(f"/v1/alerts/{alert['id']}").json()["review"]
                assert waiting["thread"]["waiting_for"]  # paused for a person, in the shared checkpoint tables
            llm.script(Reply(tool_calls=[ToolCall("sql_query", {"sql": SQL}),
                                         ToolCall("sql_query", {"sql": "DELETE FROM decisions"}),
                                         ToolCall("sql_query", {"sql": "SELECT pg_sleep(5) FROM chat_decisions"})]),
                       answer, Reply(content=f"The lowest value was {low}, as the first turn showed."))
            with stack.client() as c:
                assert c.get(f"/v1/chat/{alert['id']}").status_code == 404  # its review thread is no chat thread
                one = ask(c, "How many USDC decisions of each action, and the lowest value?", thread_id=alert["id"])
                audited = chat_audit(c, alert["id"])
                review = c.get(f"/v1/alerts/{alert['id']}").json()["review"]
            assert [t["status"] for t in one["tool_calls"]] == ["ok", "refused", "refused"] and all_ok(one)
            parts = [p.split(": ")[1] for p in one["answer"].split("; ")]
            assert sum(int(p.split()[0]) for p in parts) == len(day) == 24
            assert min(float(p.rsplit(" ", 1)[1]) for p in parts) == low  # the PostgreSQL view's value column
            assert [e["action"] for e in audited].count("chat.tool_refused") == 2
            assert review == waiting  # the review thread did not move
            stack.server.stop()
            stack.server.start()
            with stack.client() as c:
                two = ask(c, "And the lowest value again?", thread_id=alert["id"])
                history = c.get(f"/v1/chat/{alert['id']}").json()["messages"]
                verdict = c.post(f"/v1/alerts/{alert['id']}/review", json={"verdict": "confirmed"},
                                 headers={"Authorization": f"Bearer {stack.keys['reviewer']['key']}"})
            assert all_ok(two) and two["tool_calls"] == []  # 0.901 stands on the first turn's SQL result
            assert [m["content"] for m in history if m["role"] == "user"] == [
                "How many USDC decisions of each action, and the lowest value?", "And the lowest value again?"]
            assert verdict.status_code == 200 and verdict.json()["resolution"] == "confirmed"
        finally:
            stack.server.stop()
