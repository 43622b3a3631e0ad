"""Read-only look-ups for the SQL SLM: watch-lists and per-stream baselines, cached with a short TTL."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Engine, select

from store.ids import now_iso
from store.tables import StreamBaselineRow, WatchlistEntryRow

WATCHLIST = WatchlistEntryRow.__table__  # type: ignore[attr-defined]
BASELINES = StreamBaselineRow.__table__  # type: ignore[attr-defined]


class Lookups:
    """Reads only. The admin API calls invalidate() after a change; other replicas see it within `ttl_s`."""

    def __init__(self, engine: Engine, ttl_s: float = 5.0) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._loaded = 0.0
        self._watch: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._base: dict[tuple[str, str], tuple[float, float]] = {}

    def invalidate(self) -> None:
        self._loaded = 0.0

    def _refresh(self) -> None:
        if time.monotonic() - self._loaded < self.ttl_s:
            return
        with self._lock:
            if time.monotonic() - self._loaded < self.ttl_s:
                return
            watch: dict[tuple[str, str], list[dict[str, Any]]] = {}
            base: dict[tuple[str, str], tuple[float, float]] = {}
            with self.engine.connect() as conn:
                for r in conn.execute(select(WATCHLIST).where(WATCHLIST.c.active.is_(True))).mappings():
                    watch.setdefault((r["kind"], r["value"]), []).append(dict(r))
                for r in conn.execute(select(BASELINES)).mappings():
                    base[(r["profile"], r["stream"])] = (float(r["mean"]), float(r["std"]))
            self._watch, self._base, self._loaded = watch, base, time.monotonic()

    def watchlist_hits(self, profile: str, items: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Active, unexpired entries matching any (kind, value), for this profile or for every profile."""
        self._refresh()
        now = now_iso()
        hits = []
        for kind, value in items:
            for entry in self._watch.get((kind, value), []):
                if entry["profile"] not in (None, profile):
                    continue
                if entry["expires_at"] and entry["expires_at"] <= now:
                    continue
                hits.append({"id": entry["id"], "kind": kind, "value": value, "reason": entry["reason"],
                             "expires_at": entry["expires_at"]})
        return hits

    def baseline(self, profile: str, stream: str) -> tuple[float, float] | None:
        self._refresh()
        return self._base.get((profile, stream))
