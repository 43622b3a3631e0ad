"""Per-stream baselines (window mean and volatility) for the SQL SLM: seeded at training, refreshed from
the decisions the service has made."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from store.engine import write_tx
from store.ids import now_iso
from store.tables import DecisionRow, StreamBaselineRow

BASELINES = StreamBaselineRow.__table__  # type: ignore[attr-defined]
DECISIONS = DecisionRow.__table__  # type: ignore[attr-defined]


def upsert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = insert(BASELINES)
    cols = ["mean", "std", "n", "window_days", "computed_at", "source"]
    conn.execute(stmt.on_conflict_do_update(index_elements=[BASELINES.c.profile, BASELINES.c.stream],
                                            set_={c: getattr(stmt.excluded, c) for c in cols}), rows)


def refresh_from_decisions(engine: Engine, window_days: float = 30.0, min_points: int = 30) -> int:
    """Recompute every stream's baseline over its events of the last `window_days` (by event time)."""
    value = DECISIONS.c.inputs["value"].as_float()
    since = time.time() - window_days * 86400
    q = (select(DECISIONS.c.profile, DECISIONS.c.stream, func.count(value), func.avg(value), func.avg(value * value))
         .where(DECISIONS.c.stream.is_not(None), DECISIONS.c.event_ts >= since)
         .group_by(DECISIONS.c.profile, DECISIONS.c.stream))
    rows = []
    with engine.connect() as conn:
        for profile, stream, n, mean, mean_sq in conn.execute(q):
            if n is None or n < min_points or mean is None:
                continue
            var = max(float(mean_sq) - float(mean) ** 2, 0.0)
            rows.append({"profile": profile, "stream": stream, "mean": float(mean), "std": var**0.5, "n": int(n),
                         "window_days": window_days, "computed_at": now_iso(), "source": "decisions"})
    with write_tx(engine) as conn:
        upsert(conn, rows)
    return len(rows)
