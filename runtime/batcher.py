"""Micro-batcher: coalesces concurrent requests so the graph, the models and the transaction run once per batch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class _Unit:
    items: list[Any]
    future: asyncio.Future[list[Any]]
    enqueued: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """One worker per batcher takes requests in arrival order (so each stream's order holds) and runs them
    together: up to `max_size` items, waiting at most `max_wait_s` for more after the first arrives.
    A request is never split; one larger than max_size runs alone. When a batch of several requests fails,
    each request runs again alone, in arrival order, so one bad request fails alone and never its neighbours
    (`run` must leave no trace when it raises)."""

    def __init__(self, run: Callable[[list[Any]], Awaitable[list[Any]]], *, max_size: int, max_wait_s: float,
                 name: str = "batcher", on_batch: Callable[[int, float], None] | None = None) -> None:
        self._run = run
        self.max_size = max_size
        self.max_wait_s = max_wait_s
        self.name = name
        self._queue: asyncio.Queue[_Unit | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._on_batch = on_batch
        self.batches = 0
        self.items = 0
        self._carry: _Unit | None = None
        self._last_size = 0  # the previous batch's size: waiting for company pays only under load

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._worker(), name=f"microbatch-{self.name}")

    async def stop(self) -> None:
        """Finish what was accepted, then stop."""
        if self._task is not None:
            await self._queue.put(None)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(self, items: list[Any]) -> list[Any]:
        if self._task is None:
            raise RuntimeError(f"{self.name} is not running")
        fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Unit(items, fut))
        return await fut

    async def _collect(self, first: _Unit) -> tuple[list[_Unit], bool]:
        units, size, stop = [first], len(first.items), False
        # An idle service runs a lone request at once; under load (the last batch had company, or more are
        # queued) it waits up to max_wait_s for more, so the fixed cost of a graph run is shared.
        busy = self._last_size > 1 or not self._queue.empty()
        deadline = time.perf_counter() + (self.max_wait_s if busy else 0.0)
        while size < self.max_size:
            try:
                unit = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    unit = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if unit is None:
                stop = True
                break
            if size + len(unit.items) > self.max_size:
                self._carry = unit  # starts the next batch, so arrival order holds
                break
            units.append(unit)
            size += len(unit.items)
        return units, stop

    async def _worker(self) -> None:
        stop = False
        while not stop:
            first, self._carry = (self._carry, None) if self._carry else (await self._queue.get(), None)
            if first is None:
                break
            units, stop = await self._collect(first)
            items = [it for u in units for it in u.items]
            self._last_size = len(items)
            started = time.perf_counter()
            try:
                results = await self._run(items)
            except Exception as exc:
                if len(units) == 1:  # failed alone: its caller hears why
                    log.exception("%s: batch of %d failed", self.name, len(items))
                    _fail(units[0], exc)
                else:  # find the bad request: each runs alone (a failure of everything fails each alone)
                    log.warning("%s: batch of %d requests failed (%s: %s); running each alone", self.name,
                                len(units), type(exc).__name__, exc)
                    await self._run_alone(units)
                continue
            self._done(units, results, len(items), started)

    async def _run_alone(self, units: list[_Unit]) -> None:
        for u in units:
            started = time.perf_counter()
            try:
                results = await self._run(u.items)
            except Exception as exc:
                log.exception("%s: request of %d failed", self.name, len(u.items))
                _fail(u, exc)
                continue
            self._done([u], results, len(u.items), started)

    def _done(self, units: list[_Unit], results: list[Any], n: int, started: float) -> None:
        self.batches += 1
        self.items += n
        if self._on_batch:
            self._on_batch(n, time.perf_counter() - started)
        offset = 0
        for u in units:
            if not u.future.done():
                u.future.set_result(results[offset : offset + len(u.items)])
            offset += len(u.items)


def _fail(unit: _Unit, exc: Exception) -> None:
    if not unit.future.done():
        unit.future.set_exception(exc)
