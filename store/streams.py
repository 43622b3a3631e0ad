"""Stream state persistence: one row per (profile, stream), upserted in the batch's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, func, select

from store.bulk import insert_rows
from store.ids import now_iso
from store.replay_inputs import save_fit
from store.tables import StreamStateRow

STREAMS = StreamStateRow.__table__  # type: ignore[attr-defined]


def _upsert(conn: Connection, rows: list[dict[str, Any]], update_cols: list[str]) -> None:
    insert_rows(conn, STREAMS, rows, conflict=(("profile", "stream"), tuple(update_cols)))


class StreamRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load_many(self, profile: str, streams: list[str]) -> dict[str, tuple[dict[str, Any], dict[str, Any] | None]]:
        out: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(streams), 500):
                q = select(STREAMS).where(STREAMS.c.profile == profile, STREAMS.c.stream.in_(streams[i : i + 500]))
                for r in conn.execute(q).mappings():
                    out[r["stream"]] = (r["state"], r["fit"])
        return out

    @staticmethod
    def save(conn: Connection, profile: str, items: list[tuple[Any, dict[str, Any], Any]]) -> None:
        """items: (StreamState, state JSON, StreamFit or None when unchanged) for each touched stream."""
        now = now_iso()
        with_fit = [(st, data, fit) for st, data, fit in items if fit is not None]
        without = [(st, data) for st, data, fit in items if fit is None]
        for st, _data, _ in items:
            st.version += 1
        for st, _data, fit in with_fit:
            save_fit(conn, profile, st.stream, fit.version, fit.to_json())
        if with_fit:
            _upsert(conn, [{"profile": profile, "stream": st.stream, "version": st.version, "updated_at": now,
                            "state": {**data, "version": st.version}, "fit": fit.to_json()}
                           for st, data, fit in with_fit], ["version", "updated_at", "state", "fit"])
        if without:
            _upsert(conn, [{"profile": profile, "stream": st.stream, "version": st.version, "updated_at": now,
                            "state": {**data, "version": st.version}, "fit": None}
                           for st, data in without], ["version", "updated_at", "state"])

    def list_streams(self, profile: str | None = None) -> list[dict[str, Any]]:
        q = select(STREAMS.c.profile, STREAMS.c.stream, STREAMS.c.version, STREAMS.c.updated_at)
        if profile:
            q = q.where(STREAMS.c.profile == profile)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]


def silent_streams(engine: Engine, *, quiet_since: str, seen_since: str) -> dict[str, int]:
    """Per profile, the streams last written between seen_since and quiet_since (ISO times): they were sending
    and stopped."""
    t = StreamStateRow.__table__  # type: ignore[attr-defined]
    q = (select(t.c.profile, func.count()).where(t.c.updated_at < quiet_since, t.c.updated_at >= seen_since)
         .group_by(t.c.profile))
    with engine.connect() as conn:
        return {str(p): int(n) for p, n in conn.execute(q)}
