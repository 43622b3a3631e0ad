"""GET /v1/health (dependencies, model versions, uptime), /v1/health/live (the process answers),
/v1/health/ready (its dependencies answer: studio/readiness.py) and GET /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import StudioDep
from api.responses import FastJSONResponse
from studio import __version__
from studio.bootstrap import Studio
from studio.readiness import Readiness

router = APIRouter(tags=["operations"])


def _overseer(studio: Studio) -> dict[str, Any]:
    from store.explanations import JOBS
    from store.jobs import counts_by_status

    start = time.perf_counter()
    ov = studio.overseer
    llm = ov is not None and ov.provider is not None
    try:
        queue, status, error = counts_by_status(studio.engine, JOBS), "ok", None
    except Exception as exc:  # reported, not raised
        queue, status, error = {}, "down", f"{type(exc).__name__}: {exc}"
    circuit = ov.provider.circuit.snapshot() if llm else None
    if circuit is not None and circuit["state"] != "closed" and status == "ok":  # calls fail at once: templates
        status, error = "degraded", f"LLM circuit {circuit['state']}: explanations use the template narrator"
    return {"name": "overseer", "status": status, "error": error, "provider": "llm" if llm else "template",
            "model": studio.settings.llm_model if llm else None, "circuit": circuit, "explanation_jobs": queue,
            "latency_ms": round((time.perf_counter() - start) * 1000, 3)}


def readiness(request: Request, studio: Studio) -> Readiness:
    """The app's Readiness, made on first use (its Redis probe pings through the rate limiter's client)."""
    ready = getattr(request.app.state, "readiness", None)
    if ready is None or ready.studio is not studio:
        auth = getattr(request.app.state, "auth", None)
        limiter = auth.limiter if auth is not None else None
        ready = request.app.state.readiness = Readiness(studio, limiter.ping if limiter is not None else None)
    return ready  # type: ignore[no-any-return]


@router.get("/v1/health/live", response_class=FastJSONResponse, summary="Liveness: the process answers")
async def health_live(studio: StudioDep) -> Any:
    return FastJSONResponse({"status": "live", "version": __version__,
                             "uptime_s": round(time.time() - studio.started_at, 1)})


@router.get("/v1/health/ready", response_class=FastJSONResponse, summary="Readiness: the dependencies answer",
            responses={503: {"description": "Not ready: a required dependency (STUDIO_READY_REQUIRES) is down"}})
async def health_ready(request: Request, studio: StudioDep) -> Any:
    result = await readiness(request, studio).check()
    return FastJSONResponse(result, status_code=200 if result["ready"] else 503)


@router.get("/v1/health", response_class=FastJSONResponse, summary="Service health",
            responses={503: {"description": "The database is down"}})
async def health(request: Request, studio: StudioDep) -> Any:
    ready = await readiness(request, studio).check()  # database first, then Redis and the LLM when configured
    deps = [*ready["checks"], await asyncio.to_thread(_overseer, studio)]
    profiles = {}
    for name, rt in studio.runtimes.items():
        profiles[name] = {"versions": rt.bundle.versions, "not_serving": rt.bundle.failures,
                          "router_version": rt.router.version,
                          "streams_in_memory": len(rt.streams.states) if rt.streams else 0}
        deps.append({"name": f"models:{name}", "status": "ok" if not rt.bundle.failures else "degraded",
                     "latency_ms": 0.0, "error": "; ".join(f"{k}: {v}" for k, v in rt.bundle.failures.items()) or None})
    overall = "ok" if all(d["status"] == "ok" for d in deps) else (
        "down" if deps[0]["status"] != "ok" else "degraded")
    return FastJSONResponse({
        "status": overall, "version": __version__, "uptime_s": round(time.time() - studio.started_at, 1),
        "dependencies": deps, "profiles": profiles,
        "batcher": {n: {"batches": b.batches, "events": b.items} for n, b in (studio.runner.batchers.items()
                                                                             if studio.runner else [])},
    }, status_code=200 if overall != "down" else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(studio: StudioDep) -> Response:
    return Response(studio.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
