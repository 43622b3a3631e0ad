"""POST /v1/decisions, POST /v1/decisions:batch, GET /v1/decisions/{id}, its trail and its replay."""

from __future__ import annotations

from typing import Any, Literal, cast

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.auth import SECURITY, authorize
from api.deps import DecisionsDep, ReadKey
from api.hot_routes import body_openapi, json_body, query, query_openapi
from api.openapi import errors
from api.responses import FastJSONResponse
from api.schemas import BatchIn, BatchOut, DecisionOut, EventIn
from core.domain import Decision
from core.events import Event

router = APIRouter(prefix="/v1", tags=["decisions"])


def to_event(e: EventIn, request_id: str, index: int) -> Event:
    return Event(profile=e.profile, stream=e.stream, ts=e.timestamp.timestamp() if e.timestamp else None,
                 value=float(e.value) if e.value is not None else None,
                 features={k: float(v) for k, v in e.features.items() if v is not None},
                 context=dict(e.context), request_id=request_id, index=index)


_PUBLIC = ("id", "created_at", "profile", "stream", "label", "severity", "score", "action", "disagreement",
           "models", "router", "rules", "signals", "governor", "model_versions", "explanation", "inputs")


def public(d: Decision) -> dict[str, Any]:
    """The response's view of a decision; parts the writer serialized already go out as those bytes."""
    fields = cast("dict[str, Any]", d)
    wire = getattr(d, "wire", None)  # store.decisions.DecisionDoc
    if not wire:
        return {k: fields[k] for k in _PUBLIC}
    return {k: wire[k] if k in wire else fields[k] for k in _PUBLIC}


class DecideQuery(BaseModel):
    explain: Literal["wait"] | None = Field(None, description="wait for the overseer's explanation")
    timeout_ms: int = Field(10_000, ge=0, le=3_600_000, description="how long explain=wait waits")


# The two decision routes are hot routes (api/hot_routes.py): they take only the Request and parse it themselves.
@router.post("/decisions", response_model=DecisionOut, response_class=FastJSONResponse,
             summary="Decide one event (answered after the decision and its audit events committed)",
             responses=errors(413, 503),
             openapi_extra={**body_openapi(EventIn), "parameters": query_openapi(DecideQuery),
                            "security": SECURITY})
async def decide(request: Request) -> Any:
    await authorize(request, "decide")
    q = query(request, DecideQuery)
    event = await json_body(request, EventIn)
    decisions = request.app.state.studio.decisions  # what DecisionsDep gives the other routes
    [d] = await decisions.decide([to_event(event, request.state.request_id, 0)])
    if q.explain == "wait":
        d = await decisions.with_explanation(d, q.timeout_ms)
    return FastJSONResponse(public(d))


@router.post("/decisions:batch", response_model=BatchOut, response_class=FastJSONResponse,
             summary="Decide up to 1,000 events in order (one transaction per micro-batch)",
             responses=errors(413, 503), openapi_extra={**body_openapi(BatchIn), "security": SECURITY})
async def decide_batch(request: Request) -> Any:
    await authorize(request, "decide")
    body = await json_body(request, BatchIn)
    request_id = request.state.request_id
    decisions = await request.app.state.studio.decisions.decide([to_event(e, request_id, i)
                                                                  for i, e in enumerate(body.events)])
    return FastJSONResponse({"decisions": [public(d) for d in decisions], "count": len(decisions)})


HOT = ("/v1/decisions", "/v1/decisions:batch")


@router.get("/decisions/{decision_id}", response_model=DecisionOut, response_class=FastJSONResponse,
            summary="A stored decision", responses=errors(404))
async def read_decision(decision_id: str, decisions: DecisionsDep, key: ReadKey) -> Any:
    return FastJSONResponse(public(decisions.get(decision_id)))


@router.get("/decisions/{decision_id}/trail", response_class=FastJSONResponse, responses=errors(404),
            summary="Everything that happened to a decision, in order: inputs, model versions and outputs, router "
                    "arm, rules, governor, LLM proposals and ruling, alert and review events, feedback")
async def read_trail(decision_id: str, decisions: DecisionsDep, key: ReadKey) -> Any:
    return FastJSONResponse(await decisions.trail(decision_id))


@router.post("/decisions/{decision_id}/replay", response_class=FastJSONResponse, responses=errors(404),
             summary="Recompute a past decision from its stored inputs with the model versions it used and with "
                     "today's active versions; both, with a diff (writes nothing)")
async def replay(decision_id: str, decisions: DecisionsDep, key: ReadKey) -> Any:
    return FastJSONResponse(await decisions.replay(decision_id))
