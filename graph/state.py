"""State of the decision graph (one micro-batch of events of one profile) and its reducers."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from core.domain import Decision, RouterChoice
from core.events import Event
from tools.results import SlmResult, ToolResult


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    return {**(left or {}), **(right or {})}


class DecisionState(TypedDict, total=False):
    events: list[Event]
    batch_id: str
    bundle: Any
    batch: Any
    touched: dict[str, Any]
    pre_states: dict[str, dict[str, Any]]  # each stream's fit version and model states before this batch
    outputs: Annotated[dict[str, ToolResult], merge_dicts]
    slm: list[SlmResult]
    routes: list[RouterChoice]
    table: Any  # graph.table.ScoreTable
    combined: list[dict[str, Any]]
    rulings: list[Any]
    alarms: list[bool] | None  # the alarm stage's flag per event (None: the profile has no alarm stage)
    decisions: list[Decision]
