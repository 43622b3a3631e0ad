"""Scripted overseer replies built from the evidence in the request (so their numbers are the real ones)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.llm_server import Reply, When

JUDGE = "overseer_verdict"  # the json_schema name in response_format tells judge and narrator requests apart
NARRATE = "overseer_narration"


def evidence_of(body: dict[str, Any]) -> dict[str, Any]:
    user = body["messages"][-1]["content"]
    return json.loads(user.split("```json", 1)[1].split("```", 1)[0])


def ran(ev: dict[str, Any]) -> list[str]:
    return [m["name"] for m in ev["models"] if m["status"] == "ok"]


def verdict(**override: Any) -> Callable[[dict[str, Any]], Reply]:
    """A verdict that passes every check, with `override` applied (to make it fail one)."""

    def make(body: dict[str, Any]) -> Reply:
        ev = evidence_of(body)
        d = ev["decision"]
        v = {"verdict": "confirm", "confidence": 0.82, "trusted_models": ran(ev)[:1],
             "rationale": f"{d['stream']} is at {ev['event']['value']}; the hard rule holds at severity "
                          f"{d['severity']}.", "requested_action": None}
        return Reply(json={**v, **override}, prompt_tokens=900, completion_tokens=60)

    return make


def narration(**override: Any) -> Callable[[dict[str, Any]], Reply]:
    def make(body: dict[str, Any]) -> Reply:
        ev = evidence_of(body)
        d = ev["decision"]
        text = (f"{d['stream']} reported {ev['event']['value']}. The governor set the action to {d['action']} "
                f"at severity {d['severity']} with a combined score of {d['combined_score']:.3f}.")
        n = {"text": text, "cited_models": ran(ev)[:1], "stated_action": d["action"]}
        return Reply(json={**n, **override}, prompt_tokens=1000, completion_tokens=80)

    return make


def judged(reply: Callable[[dict[str, Any]], Reply] | Reply, times: int = 1) -> When:
    return When(JUDGE, reply, times)


def narrated(reply: Callable[[dict[str, Any]], Reply] | Reply, times: int = 1) -> When:
    return When(NARRATE, reply, times)
