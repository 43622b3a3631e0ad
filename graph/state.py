"""State of the decision graph (one micro-batch of events of one profile) and its reducers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from graph.events import Event
from models.base import ModelScores


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    return {**(left or {}), **(right or {})}


@dataclass
class ToolResult:
    """One model tool's answer for the whole batch."""

    name: str
    version: str | None
    family: str
    status: str  # ok | failed | timeout
    scores: ModelScores | None = None
    error: str | None = None
    latency_ms: float = 0.0


@dataclass
class SlmResult:
    """The SLMs' answer for one event."""

    quantities: dict[str, Any]
    signals: list[dict[str, Any]]
    fired: list[dict[str, Any]]
    rule_errors: list[dict[str, Any]]
    watchlist: list[dict[str, Any]] = field(default_factory=list)


class DecisionState(TypedDict, total=False):
    events: list[Event]
    batch_id: str
    bundle: Any
    batch: Any
    touched: dict[str, Any]
    pre_states: dict[str, dict[str, Any]]  # each stream's fit version and model states before this batch
    outputs: Annotated[dict[str, ToolResult], merge_dicts]
    slm: list[SlmResult]
    routes: list[dict[str, Any]]
    table: Any  # graph.table.ScoreTable
    combined: list[dict[str, Any]]
    rulings: list[Any]
    alarms: list[bool] | None  # the alarm stage's flag per event (None: the profile has no alarm stage)
    decisions: list[dict[str, Any]]
