"""GET /v1/streams/{profile}/{stream}: what the service remembers about a stream."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ReadKey, StreamsDep
from api.openapi import errors
from api.responses import FastJSONResponse

router = APIRouter(prefix="/v1/streams", tags=["streams"])


@router.get("/{profile}/{stream}", response_class=FastJSONResponse, responses=errors(404),
            summary="A stream's state and fit")
async def read_stream(profile: str, stream: str, streams: StreamsDep, key: ReadKey) -> Any:
    return FastJSONResponse(await streams.snapshot(profile, stream))
