"""Explanation and webhook workers: async loops that claim leased jobs from the database, in the API process
(STUDIO_EXPLANATION_WORKERS) or standalone (`studio worker`), any number of them on one PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from store.jobs import Lease, LeaseQueue, worker_id
from studio.overseer import Overseer
from studio.webhooks import deliver, delivery_queue

log = logging.getLogger(__name__)


class WorkerPool:
    """N explanation loops and one webhook loop; each holds at most one lease at a time and heart-beats it."""

    def __init__(self, overseer: Overseer, *, workers: int, name: str = "w") -> None:
        s = overseer.settings
        self.overseer = overseer
        self.workers = workers
        self.name = name
        self.poll_s = s.explanation_poll_s
        self.webhook_timeout_s = s.webhook_timeout_s
        self.deliveries = delivery_queue(overseer.engine, lease_s=max(30.0, 3 * s.webhook_timeout_s),
                                         backoff_s=s.webhook_backoff_s)
        self.tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.completed: dict[str, int] = {}

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        q = self.overseer.queue
        for i in range(self.workers):
            owner = worker_id(f"{self.name}-explain{i}")
            self.tasks.append(asyncio.create_task(self._loop_on(q, owner, self.overseer.run_job), name=owner))
        if self.workers:
            client = httpx.AsyncClient(follow_redirects=False)
            owner = worker_id(f"{self.name}-webhooks")

            async def send(lease: Lease) -> str:
                return await deliver(client, self.deliveries, lease, timeout_s=self.webhook_timeout_s)

            self.tasks.append(asyncio.create_task(self._loop_on(self.deliveries, owner, send, client), name=owner))

    def wake(self) -> None:
        """Thread-safe: a decision batch just enqueued jobs."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.poll_s)
        self._wake.clear()

    async def _loop_on(self, queue: LeaseQueue, owner: str, run: Callable[[Lease], Awaitable[str]],
                       resource: Any = None) -> None:
        try:
            while not self._stop.is_set():
                try:
                    leases = await asyncio.to_thread(queue.claim, owner, 1)
                except Exception:
                    log.exception("claiming from %s failed", queue.t.name)
                    await asyncio.sleep(self.poll_s)
                    continue
                if not leases:
                    await self._idle()
                    continue
                status = await self._run(queue, leases[0], run)
                self.completed[status] = self.completed.get(status, 0) + 1
        finally:
            if resource is not None:
                await resource.aclose()

    async def _run(self, queue: LeaseQueue, lease: Lease, run: Callable[[Lease], Awaitable[str]]) -> str:
        beat = asyncio.create_task(self._heartbeat(queue, lease))
        try:
            return await run(lease)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(queue.release, lease)
            raise
        finally:
            beat.cancel()

    async def _heartbeat(self, queue: LeaseQueue, lease: Lease) -> None:
        while True:
            await asyncio.sleep(queue.lease_s / 3.0)
            try:
                if not await asyncio.to_thread(queue.heartbeat, lease):
                    log.warning("lost the lease on %s %s", queue.t.name, lease.id)
                    return
            except Exception:
                log.exception("heartbeat on %s failed", lease.id)


def run_standalone(settings: Any, *, workers: int, metrics_port: int | None = None) -> int:
    """`studio worker`: explanation and webhook workers without the API (until SIGTERM or SIGINT)."""
    from core.profiles import load_profiles
    from store.engine import init_db, make_engine
    from studio import telemetry
    from studio.metrics import Metrics

    engine = make_engine(settings.database_url)
    init_db(engine)
    if telemetry.configure(settings):  # its explanation jobs and LLM calls traced like the server's
        telemetry.instrument_engine(engine)
    metrics = Metrics()
    overseer = Overseer(settings, engine, load_profiles(settings.profiles_dir), metrics)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=settings.host, registry=metrics.registry)

    async def main() -> None:
        pool = WorkerPool(overseer, workers=workers, name="standalone")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        pool.start()
        log.info("%d explanation worker(s) on %s (LLM: %s)", workers, engine.url.render_as_string(hide_password=True),
                 overseer.provider.model if overseer.provider else "none, template narrator")
        await stop.wait()
        await pool.stop()

    try:
        asyncio.run(main())
    finally:
        engine.dispose()
    return 0
