"""GET /v1/drift/{profile}: the profile's live inputs and model scores against the training reference."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import DriftDep, ReadKey
from api.openapi import errors
from api.responses import FastJSONResponse

router = APIRouter(prefix="/v1/drift", tags=["operations"])


@router.get("/{profile}", response_class=FastJSONResponse, responses=errors(404, 422),
            summary="Drift of a profile: per feature PSI and KS, per model score shift and anomaly rate, over the "
                    "last STUDIO_DRIFT_WINDOW decisions against the training reference")
async def read_drift(profile: str, drift: DriftDep, key: ReadKey) -> Any:
    return FastJSONResponse(await drift.report(profile))
