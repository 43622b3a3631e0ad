"""Readiness: probes of the database, Redis (when configured) and the LLM endpoint (when configured), run
together at most once per STUDIO_HEALTH_CACHE_S, each with its latency. A failed probe named in
STUDIO_READY_REQUIRES (default: database) makes the service not ready; another one makes it degraded (Redis
falls back to per-process rate limits, the LLM to the template narrator, so decisions are still served)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import Engine, text

from core.settings import Settings
from store.ids import now_iso
from studio.llm import PLACEHOLDER_KEY, LlmProvider

PROBE_TIMEOUT_S = 2.0
PROBES = ("database", "redis", "llm")


class Readiness:
    """One per app; `await check()` -> {"status": ready | degraded | not_ready, "ready": bool, "checks": [...]}."""

    def __init__(self, settings: Settings, engine: Engine, redis_ping: Callable[[], Awaitable[Any]] | None = None, *,
                 provider: Callable[[], LlmProvider | None] | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.redis_ping = redis_ping
        self._provider = provider
        s = settings
        self.cache_s = s.health_cache_s
        self.requires = frozenset(p.strip() for p in s.ready_requires.split(",") if p.strip())
        self._result: dict[str, Any] | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    @property
    def provider(self) -> LlmProvider | None:
        return self._provider() if self._provider is not None else None

    async def check(self) -> dict[str, Any]:
        async with self._lock:  # concurrent callers share one round of probes
            if self._result is not None and time.monotonic() - self._at < self.cache_s:
                return {**self._result, "cached": True}
            probes = [self._probe("database", self._database)]
            if self.settings.redis_url:
                probes.append(self._probe("redis", self._redis))
            if self.provider is not None:
                probes.append(self._probe("llm", self._llm))
            checks = list(await asyncio.gather(*probes))
            ready = all(c["status"] == "ok" for c in checks if c["required"])
            status = "not_ready" if not ready else ("ready" if all(c["status"] == "ok" for c in checks) else "degraded")
            self._result = {"status": status, "ready": ready, "checked_at": now_iso(), "cache_s": self.cache_s,
                            "checks": checks}
            self._at = time.monotonic()
            return {**self._result, "cached": False}

    async def _probe(self, name: str, probe: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            out = dict(await asyncio.wait_for(probe(), PROBE_TIMEOUT_S))
        except TimeoutError:
            out = {"status": "down", "error": f"no answer within {PROBE_TIMEOUT_S:g} s"}
        except Exception as exc:  # reported, not raised: readiness must answer
            out = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
        return {"name": name, "status": out.pop("status", "ok"), "required": name in self.requires,
                "latency_ms": round((time.perf_counter() - start) * 1000, 3), "error": out.pop("error", None), **out}

    async def _database(self) -> dict[str, Any]:
        engine = self.engine

        def select_1() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        await asyncio.to_thread(select_1)
        return {"backend": engine.dialect.name}

    async def _redis(self) -> dict[str, Any]:
        if self.redis_ping is None:
            return {"status": "down", "error": "no Redis client (the rate limiter has not started)"}
        await self.redis_ping()
        return {}

    async def _llm(self) -> dict[str, Any]:
        """GET <base_url>/models (every OpenAI-compatible server has it), and the circuit breaker's state."""
        s = self.settings
        provider = self.provider
        assert provider is not None
        key = s.llm_api_key.get_secret_value() if s.llm_api_key else PLACEHOLDER_KEY
        circuit = provider.circuit.snapshot()
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S, follow_redirects=False) as client:
            r = await client.get(f"{str(s.llm_base_url).rstrip('/')}/models", headers={"Authorization": f"Bearer {key}"})
        out: dict[str, Any] = {"model": s.llm_model, "circuit": circuit}
        if r.status_code >= 500 or r.status_code in (401, 403):
            return {**out, "status": "down", "error": f"GET /models answered HTTP {r.status_code}"}
        if circuit["state"] != "closed":
            return {**out, "status": "degraded",
                    "error": f"circuit {circuit['state']} after {circuit['failure_threshold']} consecutive failures"}
        return out
