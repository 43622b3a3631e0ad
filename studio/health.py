"""Health for the operations routes: liveness, readiness (studio/readiness.py), the full health document
(dependencies, the overseer and its queue, each profile's serving models, the batchers) and the metrics text."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Engine

from core.settings import Settings
from runtime.profile_runtime import ProfileRuntime
from runtime.runner import DecisionRunner
from store.explanations import JOBS
from store.jobs import counts_by_status
from studio import __version__
from studio.metrics import Metrics
from studio.overseer import Overseer
from studio.readiness import Readiness


class Health:
    def __init__(self, settings: Settings, engine: Engine, metrics: Metrics, runtimes: dict[str, ProfileRuntime], *,
                 started_at: float, overseer: Overseer | None = None, runner: DecisionRunner | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.runtimes = runtimes
        self.started_at = started_at
        self.overseer = overseer
        self.runner = runner
        self.readiness = Readiness(settings, engine, provider=lambda: overseer.provider if overseer else None)

    def use_redis(self, ping: Callable[[], Awaitable[Any]] | None) -> None:
        """Readiness pings Redis through the rate limiter's client (the app starts it)."""
        self.readiness.redis_ping = ping

    def uptime_s(self) -> float:
        return round(time.time() - self.started_at, 1)

    def live(self) -> dict[str, Any]:
        return {"status": "live", "version": __version__, "uptime_s": self.uptime_s()}

    async def ready(self) -> dict[str, Any]:
        return await self.readiness.check()

    def _overseer(self) -> dict[str, Any]:
        start = time.perf_counter()
        ov = self.overseer
        provider = ov.provider if ov is not None else None
        try:
            queue, status, error = counts_by_status(self.engine, JOBS), "ok", None
        except Exception as exc:  # reported, not raised
            queue, status, error = {}, "down", f"{type(exc).__name__}: {exc}"
        circuit = provider.circuit.snapshot() if provider is not None else None
        if circuit is not None and circuit["state"] != "closed" and status == "ok":  # calls fail at once: templates
            status, error = "degraded", f"LLM circuit {circuit['state']}: explanations use the template narrator"
        return {"name": "overseer", "status": status, "error": error, "provider": "llm" if provider else "template",
                "model": self.settings.llm_model if provider else None, "circuit": circuit,
                "explanation_jobs": queue, "latency_ms": round((time.perf_counter() - start) * 1000, 3)}

    async def health(self) -> dict[str, Any]:
        """Everything at once; `status` is down when the database is, degraded when anything else is not ok."""
        ready = await self.readiness.check()  # database first, then Redis and the LLM when configured
        deps = [*ready["checks"], await asyncio.to_thread(self._overseer)]
        profiles = {}
        for name, rt in self.runtimes.items():
            profiles[name] = {"versions": rt.bundle.versions, "not_serving": rt.bundle.failures,
                              "router_version": rt.router.version,
                              "streams_in_memory": len(rt.streams.states) if rt.streams else 0}
            deps.append({"name": f"models:{name}", "status": "ok" if not rt.bundle.failures else "degraded",
                         "latency_ms": 0.0,
                         "error": "; ".join(f"{k}: {v}" for k, v in rt.bundle.failures.items()) or None})
        overall = "ok" if all(d["status"] == "ok" for d in deps) else (
            "down" if deps[0]["status"] != "ok" else "degraded")
        batchers = self.runner.batchers.items() if self.runner else []
        return {"status": overall, "version": __version__, "uptime_s": self.uptime_s(), "dependencies": deps,
                "profiles": profiles, "batcher": {n: {"batches": b.batches, "events": b.items} for n, b in batchers}}

    def metrics_text(self) -> bytes:
        return self.metrics.render()
