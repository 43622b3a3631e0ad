"""Periodic upkeep inside the server: refresh stream baselines; adopt router states learned by other replicas."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from store.baselines import refresh_from_decisions
from store.router_repo import latest_state

log = logging.getLogger(__name__)


def sync_routers(studio: Any) -> list[str]:
    """Another replica may have learned from feedback: load newer router states of the same lineage."""
    from models.router import RouterState

    changed = []
    for name, rt in studio.runtimes.items():
        row = latest_state(studio.engine, name)
        if row is None or row["state"].get("base") != rt.router.state.base:
            continue
        if f"r{row['version']}" != rt.router.version and (not rt.router.version.startswith("r") or
                                                          int(rt.router.version[1:]) < row["version"]):
            with rt.router.lock:
                rt.router.state = RouterState.from_json(row["state"])
                rt.router.version = f"r{row['version']}"
            changed.append(name)
    return changed


async def run(studio: Any, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        with contextlib.suppress(Exception):
            n = await asyncio.to_thread(refresh_from_decisions, studio.engine)
            changed = await asyncio.to_thread(sync_routers, studio)
            studio.lookups.invalidate()
            log.debug("maintenance: %d baselines refreshed, routers synced: %s", n, changed)
