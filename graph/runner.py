"""Runs events through the decision graph: validation, one micro-batcher per profile, results in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from graph.batcher import MicroBatcher
from graph.context import DecisionContext, ProfileRuntime
from graph.events import Event, validate_event
from store.ids import new_id
from studio.errors import StudioError, ValidationFailed
from studio.profiles import get_profile


def _bind(fn: Callable[[str, int, float], None] | None, profile: str) -> Callable[[int, float], None] | None:
    if fn is None:
        return None
    return lambda n, s: fn(profile, n, s)


class DecisionRunner:
    def __init__(self, graph: Any, runtimes: dict[str, ProfileRuntime],
                 make_context: Callable[[ProfileRuntime], DecisionContext], *, max_size: int, max_wait_s: float,
                 on_batch: Callable[[str, int, float], None] | None = None) -> None:
        self.graph = graph
        self.runtimes = runtimes
        self.make_context = make_context
        self.batchers = {
            name: MicroBatcher(self._runner(name), max_size=max_size, max_wait_s=max_wait_s, name=name,
                               on_batch=_bind(on_batch, name))
            for name in runtimes
        }

    def _runner(self, profile: str) -> Callable[[list[Event]], Any]:
        async def run(events: list[Event]) -> list[dict[str, Any]]:
            return await self.run_batch(profile, events)

        return run

    async def run_batch(self, profile: str, events: list[Event]) -> list[dict[str, Any]]:
        """One graph run over a batch of events of one profile (what the batcher calls; replay calls it too)."""
        ctx = self.make_context(self.runtimes[profile])
        out = await self.graph.ainvoke({"events": events, "batch_id": new_id("bat")}, context=ctx)
        return out["decisions"]

    def start(self) -> None:
        for b in self.batchers.values():
            b.start()

    async def stop(self) -> None:
        await asyncio.gather(*(b.stop() for b in self.batchers.values()))

    def validate(self, events: list[Event]) -> list[Event]:
        """Every event against its profile; all problems of all events are reported together."""
        problems: list[Any] = []
        for ev in events:
            try:
                profile = get_profile({n: rt.profile for n, rt in self.runtimes.items()}, ev.profile)
                validate_event(profile, ev)
            except ValidationFailed as exc:
                problems.extend(exc.details if isinstance(exc.details, list) else [exc.details])
            except StudioError as exc:  # unknown profile
                problems.append({"loc": f"events[{ev.index}].profile", "msg": getattr(exc, "message", str(exc)),
                                 "details": getattr(exc, "details", None)})
        if problems:
            raise ValidationFailed("invalid event" if len(events) == 1 else "invalid events", details=problems)
        return events

    async def decide(self, events: list[Event]) -> list[dict[str, Any]]:
        """Validate, then decide every event; returns decisions in the order of the events."""
        self.validate(events)
        groups: dict[str, list[int]] = {}
        for i, ev in enumerate(events):
            groups.setdefault(ev.profile, []).append(i)
        results = await asyncio.gather(*(self.batchers[p].submit([events[i] for i in idx]) for p, idx in groups.items()))
        out: list[dict[str, Any]] = [{}] * len(events)
        for (_, idx), decs in zip(groups.items(), results, strict=True):
            for i, d in zip(idx, decs, strict=True):
                out[i] = d
        return out
