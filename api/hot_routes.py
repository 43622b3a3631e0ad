"""The hottest routes (POST /v1/decisions and :batch) dispatched without FastAPI's per-request machinery.

FastAPI resolves a route's dependencies and walks its routers on every request: about 260 us of the 420 us an
in-process decision request spent in the web framework (docs/performance.md). A hot route's endpoint takes only
the `Request` and does its own auth, body and query parsing with the helpers below; `HotRoutes` (pure ASGI,
inside RequestContextMiddleware) calls it directly and renders its errors with the app's own exception
handlers, so the envelope, the status codes and the metrics labels are those of the FastAPI route. The route
stays declared on its APIRouter (OpenAPI, and the same behaviour if reached through FastAPI)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from api.middleware import BodyTooLarge
from core.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


async def json_body(request: Request, model: type[M]) -> M:
    """The request body parsed and validated in one pass (pydantic's JSON parser); errors as FastAPI's 422."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(_located("body", exc)) from None


def query(request: Request, model: type[M]) -> M:
    names = [k for k, _ in request.query_params.multi_items()]
    if len(names) != len(set(names)):  # as api.deps.single_valued_query does for the other routes
        raise ValidationFailed("a query parameter is given more than once",
                               details={"repeated": sorted({k for k in names if names.count(k) > 1})})
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(_located("query", exc)) from None


def _located(where: str, exc: ValidationError) -> list[dict[str, Any]]:
    return [{**e, "loc": (where, *e["loc"])} for e in exc.errors(include_url=False)]


def body_openapi(model: type[BaseModel], description: str = "") -> dict[str, Any]:
    """`openapi_extra` for a hot route: its request body is `model` (registered by document_models)."""
    return {"requestBody": {"required": True, "description": description, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def query_openapi(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI parameters of a hot route's query model."""
    schema = model.model_json_schema()
    return [{"name": name, "in": "query", "required": name in schema.get("required", []),
             "description": prop.get("description", ""), "schema": {k: v for k, v in prop.items() if k != "description"}}
            for name, prop in schema["properties"].items()]


def document_models(app: FastAPI, models: Iterable[type[BaseModel]]) -> None:
    """Add the hot routes' body models to the OpenAPI components (FastAPI only adds models it parses)."""
    models = list(models)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = generate().setdefault("components", {}).setdefault("schemas", {})
            for m in models:
                s = m.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, d in s.pop("$defs", {}).items():
                    schemas.setdefault(name, d)
                schemas.setdefault(m.__name__, s)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class HotRoutes:
    """ASGI: (method, path) of a hot route -> its endpoint, called with the Request; everything else -> the app."""

    def __init__(self, app: Any, *, fastapi: FastAPI, routes: Iterable[APIRoute]) -> None:
        self.app = app
        self.fastapi = fastapi
        self.table: dict[tuple[str, str], APIRoute] = {}
        for r in routes:
            params = list(inspect.signature(r.endpoint).parameters.values())
            if len(params) != 1 or params[0].annotation not in (Request, "Request"):
                raise TypeError(f"hot route {r.path} must take exactly one parameter, the Request")
            for method in r.methods or ():
                self.table[(method, r.path)] = r

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        route = self.table.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["app"], scope["route"] = self.fastapi, route
        request = Request(scope, receive)
        try:
            response: Response = await route.endpoint(request)
        except BodyTooLarge:  # RequestContextMiddleware answers 413
            raise
        except Exception as exc:  # the app's own handlers: the same envelope as any other route
            response = await self._handler(exc)(request, exc)
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Callable[..., Any]:
        handlers = self.fastapi.exception_handlers
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        raise exc  # no handler, not even for Exception: let the server report it
