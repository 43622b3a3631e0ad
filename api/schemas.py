"""Request and response schemas of the public API (strict: wrong types, NaN and inf are refused)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)

Number = StrictFloat | StrictInt
ContextValue = StrictStr | StrictInt | StrictFloat | StrictBool | None
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")]
MAX_INT = 2**63 - 1  # what a database integer column holds; larger integers are refused, never passed on
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)?)?$")


def _iso_text(v: Any) -> Any:
    if isinstance(v, datetime) or (isinstance(v, str) and _ISO.match(v)):
        return v
    raise ValueError("must be an ISO-8601 date-time such as 2023-03-11T07:00:00Z")


def _utc(v: datetime) -> datetime:
    try:
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise ValueError("outside the supported date range") from None


# ISO-8601 text only (no epoch numbers, so `0.5` is refused), naive = UTC, normalized to UTC
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_utc)]


MAX_EPOCH_S = 1e10  # epoch seconds between -1e10 and 1e10 (years 1653 to 2286), never read as milliseconds


def _epoch_or_iso(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if not (math.isfinite(v) and abs(v) <= MAX_EPOCH_S):
            raise ValueError(f"epoch seconds must be between {-MAX_EPOCH_S:.0e} and {MAX_EPOCH_S:.0e}")
        return datetime.fromtimestamp(v, UTC)
    return _iso_text(v)


# An event's time: ISO-8601 (naive = UTC) or epoch seconds
EventTime = Annotated[datetime, BeforeValidator(_epoch_or_iso), AfterValidator(_utc), WithJsonSchema({
    "anyOf": [{"type": "string", "format": "date-time"},
              {"type": "number", "minimum": -MAX_EPOCH_S, "maximum": MAX_EPOCH_S, "description": "epoch seconds"}]})]


class EventIn(BaseModel):
    """One event. Stream profiles take `value` (and optionally `stream`, `timestamp`); tabular profiles take
    `features`. `context` carries entity ids and free text, which is treated as data, never as instructions."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra={"examples": [
        {"profile": "peg", "stream": "USDC", "timestamp": "2023-03-11T07:00:00Z", "value": 0.874,
         "context": {"token": "USDC", "venue": "kraken"}}]})

    profile: Name
    stream: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:/\-]+$")] | None = None
    timestamp: EventTime | None = None
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


class ErrorInfo(BaseModel):
    code: str = Field(description="validation_error, unauthenticated, forbidden, not_found, conflict, "
                                  "rate_limited, payload_too_large, unavailable, ... (docs/api.md)")
    message: str
    details: Any = Field(None, description="what was wrong, e.g. a list of {loc, msg, type}")
    request_id: str | None = Field(None, description="the X-Request-ID of the request")


class ErrorOut(BaseModel):
    """The envelope every error response has."""

    error: ErrorInfo
