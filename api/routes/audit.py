"""GET /v1/audit/verify: recompute the hash chain and report the first broken link."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from api.deps import StudioDep
from api.responses import FastJSONResponse
from store import audit

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/verify", response_class=FastJSONResponse, summary="Verify the audit hash chain")
async def verify(studio: StudioDep) -> Any:
    return FastJSONResponse(await asyncio.to_thread(audit.verify, studio.engine))
