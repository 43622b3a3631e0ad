"""Dependencies, declared once as Annotated aliases: each route takes one service (the *Dep aliases, from the
composition root's Studio on app.state; tests override get_studio) and one key.

Every non-public route takes exactly one of the key aliases below; its scope is the permission it needs
(docs/security.md has the role matrix): ReadKey (viewer and up), DecideKey (analyst, admin), FeedbackKey
(analyst, reviewer, admin), ReviewKey (reviewer, admin), AdminKey (admin)."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends, Request

from api.auth import require
from core.errors import ServiceUnavailable, ValidationFailed
from studio.alerts import AlertService
from studio.audit_log import AuditLog
from studio.bootstrap import Studio
from studio.chat import ChatService
from studio.decisions import DecisionService
from studio.drift import DriftMonitor
from studio.feedback import FeedbackService
from studio.forecasts import Forecasts
from studio.health import Health
from studio.keys import KeyService, Principal
from studio.model_admin import ModelAdmin
from studio.overseer import Overseer
from studio.streams import StreamService
from studio.watchlists import WatchlistService
from studio.webhook_subscriptions import WebhookSubscriptions

S = TypeVar("S")


async def get_studio(request: Request) -> Studio:  # async: a sync dependency costs a thread hop
    return request.app.state.studio  # type: ignore[no-any-return]


def _running(service: S | None, what: str) -> S:
    if service is None:
        raise ServiceUnavailable(f"{what} is not running in this process")
    return service


async def get_alerts(studio: Annotated[Studio, Depends(get_studio)]) -> AlertService:
    return _running(studio.alerts, "alert review")


async def get_audit(studio: Annotated[Studio, Depends(get_studio)]) -> AuditLog:
    return studio.audit


async def get_chat(studio: Annotated[Studio, Depends(get_studio)]) -> ChatService:
    return _running(studio.chat, "the incident chat")


async def get_decisions(studio: Annotated[Studio, Depends(get_studio)]) -> DecisionService:
    return _running(studio.decisions, "the decision service")


async def get_drift(studio: Annotated[Studio, Depends(get_studio)]) -> DriftMonitor:
    return _running(studio.drift, "drift monitoring")


async def get_feedback(studio: Annotated[Studio, Depends(get_studio)]) -> FeedbackService:
    return studio.feedback


async def get_forecasts(studio: Annotated[Studio, Depends(get_studio)]) -> Forecasts:
    return studio.forecasts


async def get_health(studio: Annotated[Studio, Depends(get_studio)]) -> Health:
    return _running(studio.health, "health reporting")


async def get_keys(studio: Annotated[Studio, Depends(get_studio)]) -> KeyService:
    return studio.keys


async def get_models(studio: Annotated[Studio, Depends(get_studio)]) -> ModelAdmin:
    return studio.models


async def get_overseer(studio: Annotated[Studio, Depends(get_studio)]) -> Overseer:
    return _running(studio.overseer, "the overseer")


async def get_streams(studio: Annotated[Studio, Depends(get_studio)]) -> StreamService:
    return studio.streams


async def get_watchlists(studio: Annotated[Studio, Depends(get_studio)]) -> WatchlistService:
    return studio.watchlists


async def get_webhooks(studio: Annotated[Studio, Depends(get_studio)]) -> WebhookSubscriptions:
    return studio.webhooks


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


AlertsDep = Annotated[AlertService, Depends(get_alerts)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
DecisionsDep = Annotated[DecisionService, Depends(get_decisions)]
DriftDep = Annotated[DriftMonitor, Depends(get_drift)]
FeedbackDep = Annotated[FeedbackService, Depends(get_feedback)]
ForecastsDep = Annotated[Forecasts, Depends(get_forecasts)]
HealthDep = Annotated[Health, Depends(get_health)]
KeysDep = Annotated[KeyService, Depends(get_keys)]
ModelsDep = Annotated[ModelAdmin, Depends(get_models)]
OverseerDep = Annotated[Overseer, Depends(get_overseer)]
StreamsDep = Annotated[StreamService, Depends(get_streams)]
WatchlistsDep = Annotated[WatchlistService, Depends(get_watchlists)]
WebhooksDep = Annotated[WebhookSubscriptions, Depends(get_webhooks)]
RequestIdDep = Annotated[str, Depends(get_request_id)]

ReadKey = Annotated[Principal, Depends(require("read"))]
DecideKey = Annotated[Principal, Depends(require("decide"))]
FeedbackKey = Annotated[Principal, Depends(require("feedback"))]
ReviewKey = Annotated[Principal, Depends(require("review"))]
AdminKey = Annotated[Principal, Depends(require("admin"))]
