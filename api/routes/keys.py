"""API keys (admin): create (the key is in this response only), list, revoke; and `GET /v1/keys/me` for any key."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminKey, KeysDep, ReadKey
from api.openapi import errors
from api.responses import FastJSONResponse
from studio.keys import ROLE_SCOPES

router = APIRouter(prefix="/v1/keys", tags=["access"])
MAX_RATE_PER_S, MAX_BURST = 1e6, 1_000_000  # finite and far above any real client


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False,
                              json_schema_extra={"examples": [{"role": "reviewer", "name": "maria"}]})
    role: Literal["viewer", "analyst", "reviewer", "admin"]
    name: str = Field("", max_length=100)
    rate_per_s: float | None = Field(None, gt=0, le=MAX_RATE_PER_S, strict=True,
                                     description="own rate limit (default STUDIO_RATE_LIMIT_PER_S)")
    burst: int | None = Field(None, ge=1, le=MAX_BURST, strict=True,
                              description="own burst (default STUDIO_RATE_LIMIT_BURST)")


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500)


@router.get("/me", response_class=FastJSONResponse, summary="The calling key: id, name, role")
async def me(key: ReadKey) -> Any:
    return FastJSONResponse({"id": key.key_id, "name": key.name, "role": key.role,
                             "scopes": sorted(ROLE_SCOPES[key.role])})


@router.get("", response_class=FastJSONResponse, summary="API keys (never the keys themselves)")
async def list_keys(keys: KeysDep, key: AdminKey, include_revoked: bool = False) -> Any:
    return FastJSONResponse({"keys": await keys.listing(include_revoked=include_revoked)})


@router.post("", response_class=FastJSONResponse, status_code=201, responses=errors(400, 413),
             summary="Create a key; the key is shown in this response only (only its sha256 is stored)")
async def create_key(body: KeyIn, keys: KeysDep, key: AdminKey) -> Any:
    secret, row = await keys.create(role=body.role, name=body.name, actor=key.actor, rate_per_s=body.rate_per_s,
                                    burst=body.burst)
    return FastJSONResponse({**row, "key": secret}, status_code=201, headers={"cache-control": "no-store"})


@router.delete("/{key_id}", response_class=FastJSONResponse, responses=errors(400, 404, 413),
               summary="Revoke a key (refused at once here)")
async def revoke_key(key_id: str, keys: KeysDep, key: AdminKey, body: RevokeIn | None = None) -> Any:
    return FastJSONResponse(await keys.revoke(key_id, actor=key.actor, reason=body.reason if body else ""))
