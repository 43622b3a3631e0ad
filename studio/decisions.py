"""The decision service: decide events (the runner's micro-batches), read a stored decision, its trail and its
replay, and wait for a decision's explanation when the caller asks to."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Engine

from core.domain import Decision
from core.errors import NotFound
from core.events import Event
from runtime.runner import DecisionRunner
from store.decisions import get_decision
from studio import trail
from studio.decision_replay import DecisionReplay
from studio.overseer import Overseer


class DecisionService:
    def __init__(self, engine: Engine, runner: DecisionRunner, replayer: DecisionReplay,
                 overseer: Overseer | None) -> None:
        self.engine = engine
        self.runner = runner
        self.replayer = replayer
        self.overseer = overseer

    async def decide(self, events: list[Event]) -> list[Decision]:
        """Each event's decision, in order, answered once its micro-batch and audit events committed."""
        return await self.runner.decide(events)

    async def with_explanation(self, decision: Decision, timeout_ms: int) -> Decision:
        """The decision with its explanation once final (or as it stands after timeout_ms, capped)."""
        if self.overseer is None:
            return decision
        return {**decision, "explanation": await self.overseer.explain_wait(decision, timeout_ms)}

    def get(self, decision_id: str) -> Decision:
        d = get_decision(self.engine, decision_id)
        if d is None:
            raise NotFound(f"no decision {decision_id!r}")
        return d

    async def trail(self, decision_id: str) -> dict[str, Any]:
        out = await asyncio.to_thread(trail.build, self.engine, decision_id)
        if out is None:
            raise NotFound(f"no decision {decision_id!r}")
        return out

    async def replay(self, decision_id: str) -> dict[str, Any]:
        return await self.replayer.replay(decision_id)
