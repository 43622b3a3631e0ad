"""Dependencies, declared once as Annotated aliases (tests override get_studio).

Every non-public route takes exactly one of the key aliases below; its scope is the permission it needs
(docs/security.md has the role matrix): ReadKey (viewer and up), DecideKey (analyst, admin), FeedbackKey
(analyst, reviewer, admin), ReviewKey (reviewer, admin), AdminKey (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.auth import require
from core.errors import ValidationFailed
from studio.bootstrap import Studio
from studio.keys import Principal


async def get_studio(request: Request) -> Studio:  # async: a sync dependency costs a thread hop
    return request.app.state.studio


async def get_request_id(request: Request) -> str:
    return request.state.request_id


async def single_valued_query(request: Request) -> None:
    """Every query parameter at most once: a repeated one is refused (422), never silently its last value."""
    repeated = repeated_query(request)
    if repeated:
        raise ValidationFailed("a query parameter is given more than once", details={"repeated": repeated})


def repeated_query(request: Request) -> list[str]:
    params = request.query_params
    if len(params.multi_items()) == len(params):  # len(): distinct names
        return []
    names = [k for k, _ in params.multi_items()]
    return sorted({k for k in names if names.count(k) > 1})


StudioDep = Annotated[Studio, Depends(get_studio)]
RequestIdDep = Annotated[str, Depends(get_request_id)]

ReadKey = Annotated[Principal, Depends(require("read"))]
DecideKey = Annotated[Principal, Depends(require("decide"))]
FeedbackKey = Annotated[Principal, Depends(require("feedback"))]
ReviewKey = Annotated[Principal, Depends(require("review"))]
AdminKey = Annotated[Principal, Depends(require("admin"))]
