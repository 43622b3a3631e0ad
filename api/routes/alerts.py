"""Alerts: the review queue (list, read) and what people do with an alert (acknowledge, assign, snooze, comment,
resolve, review). Every change is audited; a verdict goes through the alert's review graph."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AlertsDep, ReadKey, ReviewKey
from api.openapi import errors
from api.responses import FastJSONResponse
from api.schemas import IsoDatetime

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
Verdict = Literal["confirmed", "dismissed", "duplicate"]
ALERT_ID = r"^alr_[0-9A-HJKMNP-TV-Z]{26}$"  # ULID
ReviewStatus = Literal["pending", "triaging", "awaiting_review", "triaged", "applying", "done"]


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"assignee": "maria@risk"}]})
    assignee: str | None = Field(..., max_length=200, description="a person (null: unassign)")


class SnoozeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"until": "2026-01-01T12:00:00Z", "reason": "issuer statement expected at noon"}]})
    until: IsoDatetime = Field(description="hold new events of this alert's key until then, unless severity rises")
    reason: str = Field("", max_length=500)


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(..., min_length=1, max_length=5000)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"verdict": "confirmed", "note": "issuer confirmed the reserve shortfall"}]})
    verdict: Verdict = Field(description="confirmed (label 1), dismissed: a false positive (label 0), duplicate")
    note: str = Field("", max_length=1000)
    duplicate_of: str | None = Field(None, min_length=4, max_length=64, description="the alert this one duplicates")


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: Verdict
    note: str = Field("", max_length=1000)
    duplicate_of: str | None = Field(None, min_length=4, max_length=64, description="the alert this one duplicates")


@router.get("", response_class=FastJSONResponse, summary="The alert queue, newest first (cursor pagination)")
async def list_alerts(alerts: AlertsDep, key: ReadKey,
                      state: Literal["open", "acknowledged", "resolved"] | None = None,
                      profile: str | None = Query(None, max_length=64),
                      stream: str | None = Query(None, max_length=200),
                      min_severity: int | None = Query(None, ge=0, le=10),
                      assignee: str | None = Query(None, max_length=200),
                      review_status: ReviewStatus | None = None,
                      since: IsoDatetime | None = Query(None, description="opened at or after"),
                      until: IsoDatetime | None = Query(None, description="opened before"),
                      limit: int = Query(50, ge=1, le=200),
                      cursor: str | None = Query(None, pattern=ALERT_ID,
                                                 description="`next_cursor` of the previous page")) -> Any:
    return FastJSONResponse(await alerts.listing(
        limit=limit, cursor=cursor, state=state, profile=profile, stream=stream, min_severity=min_severity,
        assignee=assignee, review_status=review_status, since=since, until=until))


@router.get("/{alert_id}", response_class=FastJSONResponse, responses=errors(404),
            summary="An alert with its decisions, comments, triage and review thread")
async def read_alert(alert_id: str, alerts: AlertsDep, key: ReadKey) -> Any:
    return FastJSONResponse(await alerts.detail(alert_id))


@router.post("/{alert_id}/acknowledge", response_class=FastJSONResponse, responses=errors(404, 409),
             summary="Acknowledge (open -> acknowledged)")
async def acknowledge(alert_id: str, alerts: AlertsDep, key: ReviewKey) -> Any:
    return FastJSONResponse(await alerts.acknowledge(alert_id, actor=key.actor))


@router.post("/{alert_id}/assign", response_class=FastJSONResponse, responses=errors(400, 404, 409, 413),
             summary="Assign to a person")
async def assign(alert_id: str, body: AssignIn, alerts: AlertsDep, key: ReviewKey) -> Any:
    return FastJSONResponse(await alerts.assign(alert_id, assignee=body.assignee, actor=key.actor))


@router.post("/{alert_id}/snooze", response_class=FastJSONResponse, responses=errors(400, 404, 409, 413),
             summary="Snooze until a time (a higher severity escalates it anyway)")
async def snooze(alert_id: str, body: SnoozeIn, alerts: AlertsDep, key: ReviewKey) -> Any:
    return FastJSONResponse(await alerts.snooze(alert_id, until=body.until, actor=key.actor,
                                                reason=body.reason))


@router.post("/{alert_id}/comments", response_class=FastJSONResponse, status_code=201,
             responses=errors(400, 404, 409, 413), summary="Comment")
async def comment(alert_id: str, body: CommentIn, alerts: AlertsDep, key: ReviewKey) -> Any:
    return FastJSONResponse(await alerts.comment(alert_id, body=body.body, actor=key.actor), status_code=201)


@router.post("/{alert_id}/resolve", response_class=FastJSONResponse, responses=errors(400, 404, 409, 413),
             summary="Resolve as confirmed, dismissed (false positive) or duplicate (applied by the review graph)")
async def resolve(alert_id: str, body: ResolveIn, alerts: AlertsDep, key: ReviewKey) -> Any:
    return FastJSONResponse(await alerts.resolve(alert_id, resolution=body.resolution, note=body.note,
                                                 actor=key.actor, duplicate_of=body.duplicate_of))


@router.post("/{alert_id}/review", response_class=FastJSONResponse, responses=errors(400, 404, 409, 413),
             summary="A reviewer's verdict: resumes the alert's review graph (labels the decisions, rewards the "
                     "router's logged arms, resolves the alert)")
async def review(alert_id: str, body: ReviewIn, alerts: AlertsDep, key: ReviewKey) -> Any:
    return FastJSONResponse(await alerts.resolve(alert_id, resolution=body.verdict, note=body.note,
                                                 actor=key.actor, duplicate_of=body.duplicate_of))
