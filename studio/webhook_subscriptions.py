"""Webhook subscriptions, each owned by the API key that registered it: register (https in production, except
to this host), list, read deliveries, delete. Delivery itself is studio/webhooks.py."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine

from core.errors import NotFound, ValidationFailed
from store import webhooks

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class WebhookSubscriptions:
    def __init__(self, engine: Engine, *, env: str) -> None:
        self.engine = engine
        self.env = env

    async def create(self, *, owner: str, url: str, events: list[str], description: str) -> dict[str, Any]:
        host = urlsplit(url).hostname or ""
        if self.env == "prod" and url.startswith("http://") and host not in LOCAL_HOSTS:
            raise ValidationFailed("webhook URLs must use https in production", details={"url": url})
        return await asyncio.to_thread(webhooks.create, self.engine, owner=owner, url=url,
                                       events=list(dict.fromkeys(events)), description=description, actor=owner)

    async def listing(self, owner: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(webhooks.listing, self.engine, owner)

    async def owned(self, owner: str, webhook_id: str) -> dict[str, Any]:
        row = await asyncio.to_thread(webhooks.get, self.engine, webhook_id)
        if row is None or row["owner"] != owner:
            raise NotFound(f"no webhook {webhook_id!r}")
        return row

    async def deliveries(self, owner: str, webhook_id: str) -> list[dict[str, Any]]:
        await self.owned(owner, webhook_id)
        return await asyncio.to_thread(webhooks.deliveries, self.engine, webhook_id)

    async def delete(self, owner: str, webhook_id: str) -> None:
        await self.owned(owner, webhook_id)
        if not await asyncio.to_thread(webhooks.delete, self.engine, owner=owner, webhook_id=webhook_id, actor=owner):
            raise NotFound(f"no webhook {webhook_id!r}")
