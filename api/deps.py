"""Dependencies, declared once as Annotated aliases (tests override get_studio).

Every non-public route takes exactly one of the key aliases below; its scope is the permission it needs
(docs/security.md has the role matrix): ReadKey (viewer and up), DecideKey (analyst, admin), FeedbackKey
(analyst, reviewer, admin), ReviewKey (reviewer, admin), AdminKey (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.auth import require
from studio.bootstrap import Studio
from studio.keys import Principal


async def get_studio(request: Request) -> Studio:  # async: a sync dependency costs a thread hop
    return request.app.state.studio


async def get_request_id(request: Request) -> str:
    return request.state.request_id


StudioDep = Annotated[Studio, Depends(get_studio)]
RequestIdDep = Annotated[str, Depends(get_request_id)]

ReadKey = Annotated[Principal, Depends(require("read"))]
DecideKey = Annotated[Principal, Depends(require("decide"))]
FeedbackKey = Annotated[Principal, Depends(require("feedback"))]
ReviewKey = Annotated[Principal, Depends(require("review"))]
AdminKey = Annotated[Principal, Depends(require("admin"))]
