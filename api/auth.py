"""Authentication, role checks and per-key rate limits for every non-public route; denials are audited."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer

from api.ratelimit import RateLimiter
from core import log_context
from core.errors import Forbidden, RateLimited, Unauthenticated
from studio.bootstrap import Studio
from studio.keys import ROLE_SCOPES, KeyService, Principal
from studio.metrics import Metrics

log = logging.getLogger(__name__)
# Unauthenticated callers share a small bucket per client address: a flood of bad keys cannot flood the audit trail.
ANON_RATE_PER_S, ANON_BURST = 5.0, 20
SCHEME = "bearer "
# How a key is sent, as OpenAPI security schemes (so /docs has "Authorize"). They only document: they never
# refuse anything, presented_key() reads the headers and AuthGate decides.
BEARER = HTTPBearer(scheme_name="bearer", auto_error=False, description="`Authorization: Bearer <key>`")
API_KEY = APIKeyHeader(name="X-API-Key", scheme_name="apiKey", auto_error=False,
                       description="`X-API-Key: <key>`")
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]  # either one; for the hot routes


def presented_key(request: Request) -> str | None:
    """`Authorization: Bearer <key>` (or `X-API-Key: <key>`)."""
    header = request.headers.get("authorization")
    if header and header[: len(SCHEME)].lower() == SCHEME:
        return header[len(SCHEME):].strip() or None
    return request.headers.get("x-api-key") or None


def route_of(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", None) or request.url.path)


class AuthGate:
    """Built by the app's lifespan: the key service, the rate limiter and the default rate and burst."""

    def __init__(self, keys: KeyService, limiter: RateLimiter, metrics: Metrics, *, rate_per_s: float,
                 burst: int) -> None:
        self.keys = keys
        self.limiter = limiter
        self.metrics = metrics
        self.rate = rate_per_s
        self.burst = burst

    async def check(self, request: Request, scope: str) -> Principal:
        key = presented_key(request)
        principal = await self.keys.authenticate(key) if key else None
        if principal is None:
            client = request.client.host if request.client else "unknown"
            await self._limit(f"anon:{client}", ANON_RATE_PER_S, ANON_BURST)
            reason = "invalid or revoked API key" if key else "missing API key"
            await self._deny(request, scope, reason, None, status=401)
            raise Unauthenticated(f"{reason}: send `Authorization: Bearer <key>`")
        await self._limit(f"key:{principal.key_id}", principal.rate_per_s or self.rate, principal.burst or self.burst)
        if not principal.allows(scope):
            await self._deny(request, scope, f"role {principal.role} lacks {scope}", principal, status=403)
            raise Forbidden(f"this key's role ({principal.role}) may not do this (needs {scope!r})",
                            details={"role": principal.role, "needs": scope,
                                     "roles_allowed": [r for r, s in ROLE_SCOPES.items() if scope in s]})
        request.state.principal = principal
        log_context.key_id.set(principal.key_id)
        return principal

    async def _limit(self, bucket: str, rate: float, burst: int) -> None:
        allowed, retry_after = await self.limiter.take(bucket, rate, burst)
        if not allowed:
            raise RateLimited("rate limit exceeded", retry_after_s=retry_after)

    async def _deny(self, request: Request, scope: str, reason: str, principal: Principal | None, *,
                    status: int) -> None:
        route = route_of(request)
        payload = {"status": status, "reason": reason, "method": request.method, "route": route,
                   "path": request.url.path[:300], "needs": scope,
                   "role": principal.role if principal else None,
                   "client": request.client.host if request.client else None,
                   "request_id": getattr(request.state, "request_id", None)}
        self.metrics.denied.labels(str(status)).inc()
        await self.keys.audit_denied(principal.actor if principal else "anonymous", f"{request.method} {route}",
                                     payload)


def auth_gate(studio: Studio, limiter: RateLimiter) -> AuthGate:
    """The gate for a Studio: its key service and metrics, the default rate limit from its settings."""
    return AuthGate(studio.keys, limiter, studio.metrics, rate_per_s=studio.settings.rate_limit_per_s,
                    burst=studio.settings.rate_limit_burst)


async def authorize(request: Request, scope: str) -> Principal:
    """The caller's principal if its key may do `scope` (else 401/403/429, audited)."""
    gate: AuthGate = request.app.state.auth
    return await gate.check(request, scope)


def require(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """The dependency behind the Annotated aliases in api/deps.py."""

    async def dependency(request: Request, _bearer: Any = Security(BEARER),
                         _key: Any = Security(API_KEY)) -> Principal:
        return await authorize(request, scope)

    dependency.__name__ = f"require_{scope}"
    return dependency
