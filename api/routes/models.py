"""Model registry API: list versions, promote, roll back, hot reload (every change is audited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminKey, ReadKey, StudioDep
from api.openapi import errors
from api.responses import FastJSONResponse
from studio import model_admin

router = APIRouter(prefix="/v1/models", tags=["models"])


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(..., pattern=r"^v\d+$")
    reason: str = Field("", max_length=500)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500)


@router.get("", response_class=FastJSONResponse, summary="Every model version (with active/serving flags)")
async def list_models(studio: StudioDep, key: ReadKey,
                      profile: str | None = Query(None, min_length=1, max_length=64)) -> Any:
    return FastJSONResponse({"models": model_admin.listing(studio, profile)})


@router.post("/{profile}/{model}/promote", response_class=FastJSONResponse,
             responses=errors(400, 404, 409, 413, 503),
             summary="Activate a version (hot)")
async def promote(profile: str, model: str, body: PromoteIn, studio: StudioDep, key: AdminKey) -> Any:
    return FastJSONResponse(await model_admin.promote(studio, profile, model, body.version, actor=key.actor,
                                                      reason=body.reason))


@router.post("/{profile}/{model}/rollback", response_class=FastJSONResponse,
             responses=errors(400, 404, 409, 413, 503),
             summary="Re-activate the version that served before the current one")
async def rollback(profile: str, model: str, body: ReasonIn, studio: StudioDep, key: AdminKey) -> Any:
    return FastJSONResponse(await model_admin.rollback(studio, profile, model, actor=key.actor, reason=body.reason))


@router.post("/{profile}/reload", response_class=FastJSONResponse, responses=errors(400, 404, 409, 413, 503),
             summary="Load the active versions (e.g. after `studio train`) without dropping requests")
async def reload(profile: str, studio: StudioDep, key: AdminKey, body: ReasonIn | None = None) -> Any:
    return FastJSONResponse(await model_admin.reload(studio, profile, actor=key.actor,
                                                     reason=(body.reason if body else "") or "reload"))
