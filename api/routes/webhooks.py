"""Webhook subscriptions: register, list, delete, and see recent deliveries; each owned by the calling API key."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import DecideKey, WebhooksDep
from api.openapi import errors
from api.responses import FastJSONResponse

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
Event = Literal["explanation.ready", "explanation.failed"]
URL = r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?([/?#]\S*)?$"


async def current_owner(key: DecideKey) -> str:
    """Who owns a subscription: the calling API key (a key sees and deletes only its own webhooks)."""
    return key.key_id


OwnerDep = Annotated[str, Depends(current_owner)]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"url": "https://ops.example.com/hooks/studio", "events": ["explanation.ready"]}]})

    url: str = Field(min_length=8, max_length=2000, pattern=URL, description="http(s)://host[:port][/path]")
    events: list[Event] = Field(default=["explanation.ready", "explanation.failed"], min_length=1, max_length=8)
    description: str = Field("", max_length=200)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL with a host")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials")
        return v


@router.post("", status_code=201, response_class=FastJSONResponse, responses=errors(400, 413),
             summary="Register a webhook; the signing secret is in this response only")
async def create_webhook(body: WebhookIn, webhooks: WebhooksDep, owner: OwnerDep) -> Any:
    row = await webhooks.create(owner=owner, url=body.url, events=list(body.events), description=body.description)
    return FastJSONResponse(row, status_code=201)


@router.get("", response_class=FastJSONResponse, summary="Your active webhooks (secrets are not shown)")
async def list_webhooks(webhooks: WebhooksDep, owner: OwnerDep) -> Any:
    return FastJSONResponse({"webhooks": await webhooks.listing(owner)})


@router.get("/{webhook_id}/deliveries", response_class=FastJSONResponse, responses=errors(404),
            summary="Recent deliveries of a webhook")
async def list_deliveries(webhook_id: str, webhooks: WebhooksDep, owner: OwnerDep) -> Any:
    return FastJSONResponse({"deliveries": await webhooks.deliveries(owner, webhook_id)})


@router.delete("/{webhook_id}", status_code=204, responses=errors(404),
               summary="Delete a webhook (pending deliveries are dropped)")
async def delete_webhook(webhook_id: str, webhooks: WebhooksDep, owner: OwnerDep) -> Response:
    await webhooks.delete(owner, webhook_id)
    return Response(status_code=204)
