"""GET /v1/health (dependencies, model versions, uptime), /v1/health/live (the process answers),
/v1/health/ready (its dependencies answer: studio/readiness.py) and GET /metrics (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import HealthDep
from api.responses import FastJSONResponse

router = APIRouter(tags=["operations"])


@router.get("/v1/health/live", response_class=FastJSONResponse, summary="Liveness: the process answers")
async def health_live(health: HealthDep) -> Any:
    return FastJSONResponse(health.live())


@router.get("/v1/health/ready", response_class=FastJSONResponse, summary="Readiness: the dependencies answer",
            responses={503: {"description": "Not ready: a required dependency (STUDIO_READY_REQUIRES) is down"}})
async def health_ready(health: HealthDep) -> Any:
    result = await health.ready()
    return FastJSONResponse(result, status_code=200 if result["ready"] else 503)


@router.get("/v1/health", response_class=FastJSONResponse, summary="Service health",
            responses={503: {"description": "The database is down"}})
async def health(health: HealthDep) -> Any:
    out = await health.health()
    return FastJSONResponse(out, status_code=200 if out["status"] != "down" else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(health: HealthDep) -> Response:
    return Response(health.metrics_text(), media_type="text/plain; version=0.0.4; charset=utf-8")
