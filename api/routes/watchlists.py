"""Watch-list admin API for the SQL SLM (every change audited; look-ups refresh immediately here)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminKey, ReadKey, StudioDep
from api.openapi import errors
from api.responses import FastJSONResponse
from api.schemas import IsoDatetime
from core.errors import NotFound, ValidationFailed
from core.profiles import get_profile
from store import watchlists
from store.ids import iso

router = APIRouter(prefix="/v1/watchlists", tags=["watchlists"])
Kind = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_]+$")]


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "token", "value": "USDC", "reason": "issuer bank exposure (SVB)", "expires_at": "2026-12-31T00:00:00Z"}]})
    kind: Kind = Field(description="a context key of the profiles (token, venue, entity, host, ...) or 'stream'")
    value: str = Field(..., min_length=1, max_length=200)
    reason: str = Field(..., min_length=3, max_length=500)
    profile: str | None = Field(None, min_length=1, max_length=64)
    expires_at: IsoDatetime | None = None


class RemoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500)


@router.get("", response_class=FastJSONResponse, summary="Watch-list entries")
async def list_entries(studio: StudioDep, key: ReadKey, kind: str | None = Query(None, max_length=40),
                       active: bool | None = True) -> Any:
    return FastJSONResponse({"entries": await asyncio.to_thread(watchlists.entries, studio.engine, kind=kind,
                                                                  active=active)})


@router.post("", response_class=FastJSONResponse, status_code=201, responses=errors(400, 413),
             summary="Add a watch-list entry")
async def add_entry(body: EntryIn, studio: StudioDep, key: AdminKey) -> Any:
    if body.profile is not None:
        get_profile(studio.profiles, body.profile)
    expires = None
    if body.expires_at is not None:
        when = body.expires_at if body.expires_at.tzinfo else body.expires_at.replace(tzinfo=UTC)
        if when <= datetime.now(UTC):
            raise ValidationFailed("expires_at is in the past")
        expires = iso(when)
    row = await asyncio.to_thread(watchlists.add, studio.engine, kind=body.kind, value=body.value, reason=body.reason,
                                  profile=body.profile, expires_at=expires, actor=key.actor)
    studio.lookups.invalidate()
    return FastJSONResponse(row, status_code=201)


@router.delete("/{entry_id}", response_class=FastJSONResponse, responses=errors(400, 404, 413),
               summary="Deactivate a watch-list entry")
async def remove_entry(entry_id: str, studio: StudioDep, key: AdminKey, body: RemoveIn | None = None) -> Any:
    row = await asyncio.to_thread(watchlists.deactivate, studio.engine, entry_id, actor=key.actor,
                                  reason=body.reason if body else "")
    if row is None:
        raise NotFound(f"no watch-list entry {entry_id!r}")
    studio.lookups.invalidate()
    return FastJSONResponse(row)
