"""Liveness and readiness in-process (no server): a database or Redis that does not answer makes readiness
503 when required and `degraded` when not, each probe with its latency; results are cached for
STUDIO_HEALTH_CACHE_S; liveness never touches a dependency."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import FastAPI

from api.deps import get_studio
from api.routes import health
from core.settings import Settings
from store.engine import make_engine
from studio.health import Health
from studio.metrics import Metrics
from studio.readiness import Readiness

DOWN_PG = "postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=1"


def fake_studio(tmp_path: Path, database_url: str, **settings: Any) -> Any:
    """A process with no profiles, runner or LLM: only what health reporting reads."""
    s = Settings(var_dir=tmp_path, database_url=database_url, env="test", **settings)
    engine = make_engine(database_url)
    return SimpleNamespace(settings=s, engine=engine,
                           health=Health(s, engine, Metrics(), {}, started_at=time.time()))


def readiness(studio: Any, redis_ping: Any) -> Readiness:
    return Readiness(studio.settings, studio.engine, redis_ping)


async def refused() -> None:
    raise ConnectionRefusedError("redis: connection refused")


def app_for(studio: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(health.router)
    app.dependency_overrides[get_studio] = lambda: studio
    app.state.studio = studio
    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return await c.get(path)


async def test_a_database_that_does_not_answer_is_not_ready_and_liveness_still_answers(tmp_path: Path) -> None:
    app = app_for(fake_studio(tmp_path, DOWN_PG))
    r = await get(app, "/v1/health/ready")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not_ready" and body["ready"] is False
    [db] = body["checks"]
    assert db["name"] == "database" and db["status"] == "down" and db["required"] and db["error"]
    assert db["latency_ms"] > 0
    assert (await get(app, "/v1/health")).status_code == 503  # /v1/health as before: database down -> 503
    live = await get(app, "/v1/health/live")
    assert live.status_code == 200 and live.json()["status"] == "live"


async def test_redis_required_or_not_and_the_cache(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    soft = readiness(fake_studio(tmp_path, url, redis_url="redis://127.0.0.1:1/0", health_cache_s=60), refused)
    first = await soft.check()
    assert first["status"] == "degraded" and first["ready"] is True and first["cached"] is False
    checks = {c["name"]: c for c in first["checks"]}
    assert checks["database"]["status"] == "ok" and checks["database"]["backend"] == "sqlite"
    assert checks["redis"]["status"] == "down" and "refused" in checks["redis"]["error"]
    again = await soft.check()
    assert again["cached"] is True and again["checked_at"] == first["checked_at"]
    hard = readiness(fake_studio(tmp_path, url, redis_url="redis://127.0.0.1:1/0", health_cache_s=0,
                                 ready_requires="database,redis"), refused)
    out = await hard.check()
    assert out["status"] == "not_ready" and out["ready"] is False and out["cached"] is False
    assert (await hard.check())["cached"] is False  # cache 0: every call probes
