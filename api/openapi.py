"""What the OpenAPI document says about errors and operation ids, declared once for every route."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.schemas import ErrorOut

WHEN = {
    400: "the body is not valid JSON (`validation_error`)",
    401: "no API key, or an unknown or revoked one (`unauthenticated`, audited)",
    403: "the key's role lacks the permission this route needs (`forbidden`, audited)",
    404: "the thing named in the path or the body does not exist (`not_found`)",
    409: "the current state does not allow this change (`conflict`, `artifact_integrity`)",
    413: "the body is larger than STUDIO_MAX_BODY_BYTES (`payload_too_large`)",
    422: "the request does not match the schema, or an event is outside its profile's limits "
    "(`validation_error`, `unknown_profile`)",
    429: "the key's rate limit is spent; `Retry-After` says when to try again (`rate_limited`)",
    503: "a dependency (models, the LLM) is not available (`model_unavailable`, `unavailable`)",
}
AUTHENTICATED = (401, 403, 422, 429)  # every route behind an API key
BODY = (400, 413)  # every route that reads a body


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route or router: each status with the error envelope as its body."""
    return {s: {"model": ErrorOut, "description": WHEN[s]} for s in statuses}


def operation_id(route: APIRoute) -> str:
    """Stable, readable operation ids: the endpoint's function name (`list_alerts`, `create_key`, ...)."""
    return route.name


def check_operation_ids(app: FastAPI) -> None:
    """Operation ids are function names: two routes with the same name would make the document ambiguous."""
    names = [r.name for r in app.routes if isinstance(r, APIRoute) and r.include_in_schema]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RuntimeError(f"duplicate operation ids (endpoint names): {duplicates}")


PROFILE_BODIES = (
    "EventIn",
    "ForecastIn",
    "EntryIn",
)  # body schemas whose `profile` must name a served profile


def document_profiles(app: FastAPI) -> None:
    """The served profiles as the `enum` of every `profile` that must name one (path parameters, the model
    listing's filter, and the bodies above), so the document says which values are accepted."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        studio = getattr(app.state, "studio", None)
        if studio is not None:
            add_profile_enum(schema, sorted(studio.profiles))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def add_profile_enum(schema: dict[str, Any], names: list[str]) -> None:
    for path, ops in schema.get("paths", {}).items():
        for op in ops.values():
            for p in op.get("parameters", []):
                if p.get("name") == "profile" and (p.get("in") == "path" or path == "/v1/models"):
                    _enum(p.get("schema", {}), names)
    for name in PROFILE_BODIES:
        prop = (
            schema.get("components", {}).get("schemas", {}).get(name, {}).get("properties", {}).get("profile")
        )
        if prop is not None:
            _enum(prop, names)


def _enum(s: dict[str, Any], names: list[str]) -> None:
    """Put the enum on the string alternative (an optional field is anyOf [string, null])."""
    for alt in s.get("anyOf", [s]):
        if alt.get("type") == "string":
            alt["enum"] = names
            alt.pop("pattern", None)
