"""The domain event the graph decides on, and its validation against a profile."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import ValidationFailed
from core.profiles import Profile

MAX_CONTEXT_KEYS = 32
MAX_CONTEXT_TEXT = 2000
DEFAULT_STREAM = "default"


@dataclass
class Event:
    profile: str
    stream: str | None
    ts: float | None
    value: float | None
    features: dict[str, float]
    context: dict[str, Any]
    request_id: str | None = None
    index: int = 0
    received_at: float = field(default_factory=time.time)

    def inputs_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "stream": self.stream, "timestamp": self.ts, "value": self.value,
                "features": self.features, "context": self.context}


def validate_event(profile: Profile, event: Event) -> Event:
    """Check an event against its profile; raises ValidationFailed listing every problem."""
    problems: list[dict[str, Any]] = []
    loc = f"events[{event.index}]"
    if profile.is_stream:
        if event.value is None:
            problems.append({"loc": f"{loc}.value", "msg": "required for stream profiles"})
        event.stream = event.stream or DEFAULT_STREAM
        if event.ts is None:
            event.ts = event.received_at
        allowed = {f.name for f in profile.fields}
    else:
        if event.value is not None:
            problems.append({"loc": f"{loc}.value", "msg": f"profile {profile.name!r} takes `features`, not `value`"})
        allowed = {f.name for f in profile.fields}
        for f in profile.fields:
            if f.required and event.features.get(f.name) is None:
                problems.append({"loc": f"{loc}.features.{f.name}", "msg": "required field missing"})
    unknown = sorted(set(event.features) - allowed)
    if unknown:
        problems.append({"loc": f"{loc}.features", "msg": f"unknown fields {unknown}", "allowed": sorted(allowed)})
    for name, v in event.features.items():
        if v is not None and not math.isfinite(v):
            problems.append({"loc": f"{loc}.features.{name}", "msg": "must be a finite number"})
    if event.value is not None and not math.isfinite(event.value):
        problems.append({"loc": f"{loc}.value", "msg": "must be a finite number"})
    if len(event.context) > MAX_CONTEXT_KEYS:
        problems.append({"loc": f"{loc}.context", "msg": f"at most {MAX_CONTEXT_KEYS} keys"})
    for key, v in event.context.items():
        if isinstance(v, str) and len(v) > MAX_CONTEXT_TEXT:
            problems.append({"loc": f"{loc}.context.{key}", "msg": f"text longer than {MAX_CONTEXT_TEXT} characters"})
        if isinstance(v, float) and not math.isfinite(v):
            problems.append({"loc": f"{loc}.context.{key}", "msg": "must be a finite number"})
    if problems:
        raise ValidationFailed("event does not match its profile", details=problems)
    try:
        check_physical_limits(profile, [event.value], [event.features])
    except ValidationFailed as exc:
        for p in exc.details:
            p["loc"] = p["loc"].replace("events[0]", loc, 1)
        raise
    return event


def check_physical_limits(profile: Profile, values: Sequence[float | None], rows: Sequence[dict[str, Any]]) -> None:
    """Reject impossible inputs before anything is scored or written (a price below 0, a field off its range)."""
    problems = []
    spec = profile.value
    for i, value in enumerate(values):
        if spec is not None and value is not None:
            if spec.min is not None and value < spec.min:
                problems.append(_limit(i, "value", value, f">= {spec.min}"))
            if spec.max is not None and value > spec.max:
                problems.append(_limit(i, "value", value, f"<= {spec.max}"))
    for i, row in enumerate(rows):
        for f in profile.fields:
            v = row.get(f.name)
            if v is None:
                continue
            if f.min is not None and v < f.min:
                problems.append(_limit(i, f"features.{f.name}", v, f">= {f.min}"))
            if f.max is not None and v > f.max:
                problems.append(_limit(i, f"features.{f.name}", v, f"<= {f.max}"))
            if f.integer and float(v) != int(v):
                problems.append(_limit(i, f"features.{f.name}", v, "an integer"))
    if problems:
        raise ValidationFailed("input outside physical limits", details=problems)


def _limit(index: int, field: str, value: float, limit: str) -> dict[str, Any]:
    return {"loc": f"events[{index}].{field}", "msg": f"outside physical limits: must be {limit}", "value": value}
