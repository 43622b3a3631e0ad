"""Model registry API: list versions, promote, roll back, hot reload (every change is audited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminKey, ModelsDep, ReadKey
from api.openapi import errors
from api.responses import FastJSONResponse

router = APIRouter(prefix="/v1/models", tags=["models"])


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(..., pattern=r"^v\d+$")
    reason: str = Field("", max_length=500)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500)


@router.get("", response_class=FastJSONResponse, summary="Every model version (with active/serving flags)")
async def list_models(models: ModelsDep, key: ReadKey,
                      profile: str | None = Query(None, min_length=1, max_length=64)) -> Any:
    return FastJSONResponse({"models": models.listing(profile)})


@router.post("/{profile}/{model}/promote", response_class=FastJSONResponse,
             responses=errors(400, 404, 409, 413, 503),
             summary="Activate a version (hot)")
async def promote(profile: str, model: str, body: PromoteIn, models: ModelsDep, key: AdminKey) -> Any:
    return FastJSONResponse(await models.promote(profile, model, body.version, actor=key.actor,
                                                      reason=body.reason))


@router.post("/{profile}/{model}/rollback", response_class=FastJSONResponse,
             responses=errors(400, 404, 409, 413, 503),
             summary="Re-activate the version that served before the current one")
async def rollback(profile: str, model: str, body: ReasonIn, models: ModelsDep, key: AdminKey) -> Any:
    return FastJSONResponse(await models.rollback(profile, model, actor=key.actor, reason=body.reason))


@router.post("/{profile}/reload", response_class=FastJSONResponse, responses=errors(400, 404, 409, 413, 503),
             summary="Load the active versions (e.g. after `studio train`) without dropping requests")
async def reload(profile: str, models: ModelsDep, key: AdminKey, body: ReasonIn | None = None) -> Any:
    return FastJSONResponse(await models.reload(profile, actor=key.actor,
                                                     reason=(body.reason if body else "") or "reload"))
