"""Periodic upkeep inside the server: refresh stream baselines; adopt router states learned by other replicas."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import Engine

from models.bandit import RouterState
from runtime.profile_runtime import ProfileRuntime
from store.bandit_repo import latest_state
from store.baselines import refresh_from_decisions
from store.lookups import Lookups

log = logging.getLogger(__name__)


def sync_routers(engine: Engine, runtimes: dict[str, ProfileRuntime]) -> list[str]:
    """Another replica may have learned from feedback: load newer router states of the same lineage."""
    changed = []
    for name, rt in runtimes.items():
        row = latest_state(engine, name)
        if row is None or row["state"].get("base") != rt.router.state.base:
            continue
        if f"r{row['version']}" != rt.router.version and (not rt.router.version.startswith("r") or
                                                          int(rt.router.version[1:]) < row["version"]):
            with rt.router.lock:
                rt.router.state = RouterState.from_json(row["state"])
                rt.router.version = f"r{row['version']}"
            changed.append(name)
    return changed


async def run(engine: Engine, runtimes: dict[str, ProfileRuntime], lookups: Lookups, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        with contextlib.suppress(Exception):
            n = await asyncio.to_thread(refresh_from_decisions, engine)
            changed = await asyncio.to_thread(sync_routers, engine, runtimes)
            lookups.invalidate()
            log.debug("maintenance: %d baselines refreshed, routers synced: %s", n, changed)
