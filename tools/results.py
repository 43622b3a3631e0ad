"""What the model tools and the SLM chain answer: one ToolResult per model for a batch, one SlmResult per event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.domain import RuleFired, Signal
from models.base import ModelScores


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
    started_ns: int = 0  # wall clock (time.time_ns) when scoring began; 0 when it never did


@dataclass
class SlmResult:
    """The SLMs' answer for one event."""

    quantities: dict[str, Any]
    signals: list[Signal]
    fired: list[RuleFired]
    rule_errors: list[dict[str, Any]]
    watchlist: list[dict[str, Any]] = field(default_factory=list)
