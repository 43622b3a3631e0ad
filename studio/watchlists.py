"""Watch-lists for the SQL SLM: list, add and deactivate entries (every change audited); the look-ups the
decision graph reads are refreshed at once in this process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from core.errors import NotFound, ValidationFailed
from core.profiles import Profile, get_profile
from store import watchlists
from store.ids import iso
from store.lookups import Lookups


class WatchlistService:
    def __init__(self, engine: Engine, profiles: dict[str, Profile], lookups: Lookups) -> None:
        self.engine = engine
        self.profiles = profiles
        self.lookups = lookups

    async def entries(self, *, kind: str | None = None, active: bool | None = True) -> list[dict[str, Any]]:
        return await asyncio.to_thread(watchlists.entries, self.engine, kind=kind, active=active)

    async def add(self, *, kind: str, value: str, reason: str, profile: str | None, expires_at: datetime | None,
                  actor: str) -> dict[str, Any]:
        if profile is not None:
            get_profile(self.profiles, profile)
        expires = None
        if expires_at is not None:
            when = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
            if when <= datetime.now(UTC):
                raise ValidationFailed("expires_at is in the past")
            expires = iso(when)
        row = await asyncio.to_thread(watchlists.add, self.engine, kind=kind, value=value, reason=reason,
                                      profile=profile, expires_at=expires, actor=actor)
        self.lookups.invalidate()
        return row

    async def remove(self, entry_id: str, *, actor: str, reason: str = "") -> dict[str, Any]:
        row = await asyncio.to_thread(watchlists.deactivate, self.engine, entry_id, actor=actor, reason=reason)
        if row is None:
            raise NotFound(f"no watch-list entry {entry_id!r}")
        self.lookups.invalidate()
        return row
