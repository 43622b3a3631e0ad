"""What drift reads: a profile's most recent decisions' model inputs and per-model calibrated scores."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Engine, select

from store.decisions import DECISIONS


def recent_inputs(engine: Engine, profile: str, limit: int) -> tuple[list[list[float]], dict[str, list[float]],
                                                                       str | None, str | None]:
    """(feature rows, each model's ready scores, oldest and newest created_at) of the profile's last `limit`
    decisions."""
    d = DECISIONS.c
    q = select(d.created_at, d.outputs).where(d.profile == profile).order_by(d.created_at.desc()).limit(limit)
    rows: list[list[float]] = []
    scores: dict[str, list[float]] = {}
    first = last = None
    with engine.connect() as conn:
        for created, outputs in conn.execute(q):
            out: dict[str, Any] = orjson.loads(outputs) if isinstance(outputs, str | bytes) else outputs
            x = (out.get("replay") or {}).get("X")
            if x is not None:
                rows.append(x)
            for m in out.get("models") or []:
                if m.get("ready") and m.get("score") is not None:
                    scores.setdefault(m["name"], []).append(float(m["score"]))
            last = last or created
            first = created
    return rows, scores, first, last
