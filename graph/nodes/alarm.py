"""alarm: the step between combine and govern that turns each stream's score into alarms (policies/alarm.py);
profiles without an `alarm` section skip it."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import DecisionContext
from graph.state import DecisionState
from models.sequential import rows_by_stream
from policies.alarm import alarm_points


async def alarm(state: DecisionState, runtime: Runtime[DecisionContext]) -> dict[str, Any]:
    return {"alarms": alarm_flags(runtime.context.runtime.profile.alarm, state["batch"], state["combined"])}


def alarm_flags(spec: Any, batch: Any, combined: list[dict[str, Any]]) -> list[bool] | None:
    """Each event's alarm flag, advancing each stream's alarm state (None: no alarm stage)."""
    if spec is None:
        return None
    flags = [False] * len(combined)
    seen = batch.seen.tolist() if batch.seen is not None else list(range(1, len(combined) + 1))
    for stream, rows in rows_by_stream(batch.streams).items():
        st = batch.states[stream]
        idx = rows.tolist()
        out, st.alarm = alarm_points([combined[i]["score"] for i in idx], [int(seen[i]) for i in idx], st.alarm,
                                     threshold=spec.threshold, refractory=spec.refractory)
        for i, f in zip(idx, out, strict=True):
            flags[i] = f
    return flags
