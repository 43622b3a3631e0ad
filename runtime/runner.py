"""Runs events through the decision graph: validation, one micro-batcher per profile, results in order.

With STUDIO_DECISION_THREAD=true the batchers and the graph run on a dedicated thread with its own event
loop (DecisionLoop), so model scoring never blocks the loop that serves HTTP. Under the GIL on 2 cores this
measured slower than the default (one loop; see docs/performance.md), so it is off by default. Code outside
the graph that touches stream states goes through `call()` (Studio.between_batches) either way."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from core import tracing
from core.domain import Decision
from core.errors import StudioError, ValidationFailed
from core.events import DEFAULT_STREAM, Event, validate_event
from core.profiles import get_profile
from runtime.batcher import MicroBatcher
from runtime.profile_runtime import ProfileRuntime

T = TypeVar("T")
# one run of the decision graph over a micro-batch of one profile's events: their decisions, in order
# (graph/decision.py's batch_runner)
RunGraph = Callable[[ProfileRuntime, list[Event]], Awaitable[list[Decision]]]


class DecisionLoop:
    """A daemon thread running its own asyncio loop; `run(coro)` awaits, from any other loop, a coroutine that
    runs on this one."""

    def __init__(self, name: str = "decision-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        self._thread.start()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if not self._thread.is_alive():  # not started (a CLI or a test without a server): run it here
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)
        if not self.loop.is_running():
            self.loop.close()


def _bind(fn: Callable[[str, int, float], None] | None, profile: str) -> Callable[[int, float], None] | None:
    if fn is None:
        return None
    return lambda n, s: fn(profile, n, s)


class DecisionRunner:
    def __init__(self, run_graph: RunGraph, runtimes: dict[str, ProfileRuntime], *, max_size: int,
                 max_wait_s: float, on_batch: Callable[[str, int, float], None] | None = None,
                 threaded: bool = False) -> None:
        self.run_graph = run_graph
        self._links: dict[int, Any] = {}  # id(event) -> the submitting request's span context (tracing on)
        self.thread: DecisionLoop | None = DecisionLoop() if threaded else None
        self.runtimes = runtimes
        self.batchers = {
            name: MicroBatcher(self._runner(name), max_size=max_size, max_wait_s=max_wait_s, name=name,
                               on_batch=_bind(on_batch, name))
            for name in runtimes
        }

    def _runner(self, profile: str) -> Callable[[list[Event]], Any]:
        async def run(events: list[Event]) -> list[Decision]:
            """A batch that raises leaves no trace: its streams are rolled back in memory (it committed
            nothing), so the batcher can run its requests again one by one and only the bad one fails."""
            rt = self.runtimes[profile]
            if rt.streams is None:
                return await self.run_batch(profile, events)
            cp = rt.streams.checkpoint([e.stream or DEFAULT_STREAM for e in events], rt.bundle)
            try:
                return await self.run_batch(profile, events)
            except Exception:
                rt.streams.rollback(cp)
                raise

        return run

    async def run_batch(self, profile: str, events: list[Event]) -> list[Decision]:
        """One graph run over a batch of events of one profile (what the batcher calls; replay calls it too)."""
        if not tracing.enabled:
            return await self.run_graph(self.runtimes[profile], events)
        links = list({id(c): c for c in (self._links.pop(id(e), None) for e in events) if c is not None}.values())
        with tracing.batch_span("decision.batch", links, **{"studio.profile": profile, "studio.events": len(events)}):
            return await self.run_graph(self.runtimes[profile], events)

    async def _start_batchers(self) -> None:
        for b in self.batchers.values():
            b.start()

    async def start(self) -> None:
        if self.thread is not None:
            self.thread.start()
        await self._on_loop(self._start_batchers())

    async def stop(self) -> None:
        async def stop_all() -> None:
            await asyncio.gather(*(b.stop() for b in self.batchers.values()))

        await self._on_loop(stop_all())
        if self.thread is not None:
            self.thread.stop()
            self.thread = DecisionLoop()  # a later start() (tests restart a studio) gets a fresh thread

    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        return await (self.thread.run(coro) if self.thread is not None else coro)

    async def call(self, fn: Callable[[], T]) -> T:
        """Run fn between batches on the decision loop: the way to read or change stream states from outside."""
        async def run() -> T:
            return fn()

        return await self._on_loop(run())

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

    async def decide(self, events: list[Event]) -> list[Decision]:
        """Validate, then decide every event; returns decisions in the order of the events."""
        self.validate(events)
        if tracing.enabled:  # the batch that runs these events links back to this request's span
            with tracing.span("decision.submit", **{"studio.events": len(events)}):
                ctx = tracing.current_context()
                for e in events:
                    self._links[id(e)] = ctx
                return await self._decide(events)
        return await self._decide(events)

    async def _decide(self, events: list[Event]) -> list[Decision]:
        groups: dict[str, list[int]] = {}
        for i, ev in enumerate(events):
            groups.setdefault(ev.profile, []).append(i)
        results = await self._on_loop(self._submit_all(events, groups))
        out: list[Decision] = [None] * len(events)  # type: ignore[list-item]  # every slot is set below
        for (_, idx), decs in zip(groups.items(), results, strict=True):
            for i, d in zip(idx, decs, strict=True):
                out[i] = d
        return out

    async def _submit_all(self, events: list[Event], groups: dict[str, list[int]]) -> list[list[Decision]]:
        return list(await asyncio.gather(*(self.batchers[p].submit([events[i] for i in idx])
                                           for p, idx in groups.items())))
