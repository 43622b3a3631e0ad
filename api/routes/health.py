"""GET /v1/health (dependencies, model versions, uptime) and GET /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import text

from api.deps import StudioDep
from api.responses import FastJSONResponse
from studio import __version__
from studio.bootstrap import Studio

router = APIRouter(tags=["operations"])


def _database(studio: Studio) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        with studio.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        status, error = "ok", None
    except Exception as exc:  # reported, not raised: health must answer
        status, error = "down", f"{type(exc).__name__}: {exc}"
    return {"name": "database", "backend": studio.engine.dialect.name, "status": status, "error": error,
            "latency_ms": round((time.perf_counter() - start) * 1000, 3)}


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
    return {"name": "overseer", "status": status, "error": error, "provider": "llm" if llm else "template",
            "model": studio.settings.llm_model if llm else None, "explanation_jobs": queue,
            "latency_ms": round((time.perf_counter() - start) * 1000, 3)}


@router.get("/v1/health", response_class=FastJSONResponse, summary="Service health")
async def health(studio: StudioDep) -> Any:
    deps = [await asyncio.to_thread(_database, studio), await asyncio.to_thread(_overseer, studio)]
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
