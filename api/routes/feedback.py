"""POST /v1/feedback (an outcome for a decision: label + router reward) and GET /v1/router/{profile}."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import FeedbackDep, FeedbackKey, ReadKey
from api.openapi import errors
from api.responses import FastJSONResponse

router = APIRouter(prefix="/v1", tags=["feedback and router"])
OUTCOMES = {"incident": 1.0, "normal": 0.0, "false_positive": 0.0, "confirmed": 1.0}


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra={"examples": [
        {"decision_id": "dec_01...", "outcome": "incident", "note": "issuer confirmed the depeg"}]})
    decision_id: str = Field(..., min_length=4, max_length=64)
    # strict: `true` or "0.5" is refused, not read as 1.0 or 0.5
    outcome: Literal["incident", "normal", "false_positive", "confirmed"] | Annotated[
        float, Field(ge=0.0, le=1.0, strict=True)] = Field(
        description="what happened: 'incident' / 'normal' (or a probability 0..1)")
    note: str = Field("", max_length=1000)


@router.post("/feedback", response_class=FastJSONResponse, responses=errors(400, 404, 413),
             summary="Report what happened after a decision")
async def post_feedback(body: FeedbackIn, feedback: FeedbackDep, key: FeedbackKey) -> Any:
    outcome = OUTCOMES[body.outcome] if isinstance(body.outcome, str) else float(body.outcome)
    return FastJSONResponse(await feedback.record(decision_id=body.decision_id, outcome=outcome,
                                                  source="api", actor=key.actor, note=body.note))


@router.get("/router/{profile}", response_class=FastJSONResponse,
            summary="The router's state and an offline evaluation of its policy")
async def router_state(profile: str, feedback: FeedbackDep, key: ReadKey) -> Any:
    return FastJSONResponse(await feedback.router_view(profile))
