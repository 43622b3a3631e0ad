"""FastAPI app factory: the lifespan builds (or receives) the Studio from the composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

from api.auth import auth_gate
from api.deps import single_valued_query
from api.errors import install_error_handlers
from api.hot_routes import HotRoutes, document_models
from api.middleware import RequestContextMiddleware
from api.openapi import AUTHENTICATED, check_operation_ids, document_profiles, errors, operation_id
from api.ratelimit import RateLimiter
from api.routes import (
    alerts,
    audit,
    chat,
    decisions,
    drift,
    explanations,
    feedback,
    forecasts,
    health,
    keys,
    models,
    streams,
    watchlists,
    webhooks,
)
from api.schemas import BatchIn, EventIn
from core.settings import Settings, get_settings
from studio import __version__, telemetry
from studio.bootstrap import Studio, build_studio, start, stop
from studio.keys import ensure_admin_key
from studio.metrics import Metrics


def create_app(settings: Settings | None = None, studio: Studio | None = None) -> FastAPI:
    settings = settings or (studio.settings if studio else get_settings())
    built = studio
    metrics = studio.metrics if studio else Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal built
        if built is None:
            built = build_studio(settings, metrics=metrics)
        app.state.studio = built
        limiter = RateLimiter(settings.redis_url)
        app.state.auth = auth_gate(built, limiter)
        if built.health is not None:
            built.health.use_redis(limiter.ping)
        assert settings.admin_key_file is not None
        ensure_admin_key(built.engine, settings.admin_key_file)  # first start: one admin key, printed once
        await limiter.start()
        await start(built)
        try:
            yield
        finally:
            await stop(built)
            await limiter.close()

    app = FastAPI(title="Gateway ML Studio", version=__version__, lifespan=lifespan,
                  description="LLM-supervised decision service: models as tools, a contextual-bandit router and a "
                              "deterministic governor with the last word. Every answer is audited before it is sent.",
                  generate_unique_id_function=operation_id)
    install_error_handlers(app)
    # every route behind an API key: its errors documented, each query parameter at most once
    auth_errors, checks = errors(*AUTHENTICATED), [Depends(single_valued_query)]
    for r in (explanations.router, webhooks.router):
        app.include_router(r, responses=auth_errors, dependencies=checks)
    for r in (decisions.router, feedback.router, forecasts.router, streams.router, models.router, watchlists.router,
              alerts.router, audit.router, chat.router, keys.router, drift.router):
        app.include_router(r, responses=auth_errors, dependencies=checks)
    app.include_router(health.router, responses={503: {"description": "a dependency is down (same document)"}})
    check_operation_ids(app)
    app.add_middleware(HotRoutes, fastapi=app, routes=[r for r in decisions.router.routes
                                                       if isinstance(r, APIRoute) and r.path in decisions.HOT])
    document_models(app, [EventIn, BatchIn])
    document_profiles(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes, metrics=metrics)
    if telemetry.configure(settings):
        telemetry.instrument_app(app)  # added last: the outermost middleware sees every request
    app.state.settings = settings
    return app
