"""POST /v1/forecasts: point forecasts and prediction intervals per forecaster and for the ensemble."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from api.deps import DecideKey, ForecastsDep
from api.openapi import errors
from api.responses import FastJSONResponse
from api.schemas import EventTime, Name

router = APIRouter(prefix="/v1", tags=["forecasts"])


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    timestamp: EventTime
    value: StrictFloat | StrictInt


class ForecastIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"profile": "ops", "stream": "cpu-1", "horizon": 24}]})
    profile: Name
    stream: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    history: Annotated[list[Point], Field(max_length=20000)] | None = Field(
        None, description="forecast from these points instead of the stream's own state")
    horizon: int = Field(24, ge=1, le=1000, strict=True)
    models: Annotated[list[Name], Field(max_length=32)] | None = None


@router.post("/forecasts", response_class=FastJSONResponse, responses=errors(400, 409, 413, 503),
             summary="Forecast a stream")
async def create_forecast(body: ForecastIn, forecasts: ForecastsDep, key: DecideKey) -> Any:
    points = None
    if body.history is not None:
        points = (np.array([p.timestamp.timestamp() for p in body.history], dtype=float),
                  np.array([float(p.value) for p in body.history], dtype=float))
    return FastJSONResponse(await forecasts.forecast(body.profile, stream=body.stream, horizon=body.horizon,
                                                     models=body.models, points=points))
