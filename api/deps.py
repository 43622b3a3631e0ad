"""Dependencies, declared once as Annotated aliases (tests override get_studio)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from studio.bootstrap import Studio


def get_studio(request: Request) -> Studio:
    return request.app.state.studio


def get_request_id(request: Request) -> str:
    return request.state.request_id


StudioDep = Annotated[Studio, Depends(get_studio)]
RequestIdDep = Annotated[str, Depends(get_request_id)]
