"""Request and response schemas of the public API (strict: wrong types, NaN and inf are refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

Number = StrictFloat | StrictInt
ContextValue = StrictStr | StrictInt | StrictFloat | StrictBool | None
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")]


class EventIn(BaseModel):
    """One event. Stream profiles take `value` (and optionally `stream`, `timestamp`); tabular profiles take
    `features`. `context` carries entity ids and free text, which is treated as data, never as instructions."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra={"examples": [
        {"profile": "peg", "stream": "USDC", "timestamp": "2023-03-11T07:00:00Z", "value": 0.874,
         "context": {"token": "USDC", "venue": "kraken"}}]})

    profile: Name
    stream: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:/\-]+$")] | None = None
    timestamp: datetime | None = None
    value: Number | None = None
    # default_factory: a literal {} default is deep-copied for every event that leaves the field out
    features: Annotated[dict[Name, Number | None], Field(max_length=256, default_factory=dict)]
    context: Annotated[dict[Name, ContextValue], Field(max_length=32, default_factory=dict)]


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(..., min_length=1, max_length=1000)


class ModelOut(BaseModel):
    name: str
    family: str
    version: str | None
    status: str = Field(description="ok | warming_up | failed | timeout")
    score: float | None = Field(None, description="calibrated 0..1")
    raw: float | None = None
    ready: bool
    latency_ms: float
    error: str | None = None
    detail: dict[str, Any] | None = None


class DecisionOut(BaseModel):
    """A decision: what the service answered, and everything needed to audit it."""

    id: str
    created_at: str
    profile: str
    stream: str | None
    label: str
    severity: int = Field(ge=0, le=10)
    score: float
    action: str = Field(description="none | watch | alert | critical | review")
    disagreement: float
    models: list[ModelOut]
    router: dict[str, Any]
    rules: list[dict[str, Any]]
    signals: list[dict[str, Any]]
    governor: dict[str, Any]
    model_versions: dict[str, str]
    explanation: dict[str, Any]
    inputs: dict[str, Any]


class BatchOut(BaseModel):
    decisions: list[DecisionOut]
    count: int
