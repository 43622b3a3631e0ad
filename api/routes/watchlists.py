"""Watch-list admin API for the SQL SLM (every change audited; look-ups refresh immediately here)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminKey, ReadKey, WatchlistsDep
from api.openapi import errors
from api.responses import FastJSONResponse
from api.schemas import IsoDatetime

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
async def list_entries(watchlists: WatchlistsDep, key: ReadKey, kind: str | None = Query(None, max_length=40),
                       active: bool | None = True) -> Any:
    return FastJSONResponse({"entries": await watchlists.entries(kind=kind, active=active)})


@router.post("", response_class=FastJSONResponse, status_code=201, responses=errors(400, 413),
             summary="Add a watch-list entry")
async def add_entry(body: EntryIn, watchlists: WatchlistsDep, key: AdminKey) -> Any:
    row = await watchlists.add(kind=body.kind, value=body.value, reason=body.reason, profile=body.profile,
                               expires_at=body.expires_at, actor=key.actor)
    return FastJSONResponse(row, status_code=201)


@router.delete("/{entry_id}", response_class=FastJSONResponse, responses=errors(400, 404, 413),
               summary="Deactivate a watch-list entry")
async def remove_entry(entry_id: str, watchlists: WatchlistsDep, key: AdminKey, body: RemoveIn | None = None) -> Any:
    return FastJSONResponse(await watchlists.remove(entry_id, actor=key.actor, reason=body.reason if body else ""))
