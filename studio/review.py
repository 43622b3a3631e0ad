"""Alert review: the checkpointer, a triager that starts each new alert's review thread, and resuming a thread
with a person's verdict; one step per alert at a time (a lock here, a claim in the database for other
processes). What triage and a verdict do is the review graph's (graph/review.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

from langgraph.types import Command
from sqlalchemy import Engine

from core.domain import Alert
from core.errors import Conflict, NotFound, ValidationFailed
from core.profiles import Profile
from core.settings import Settings
from graph.review import VERDICTS, ReviewContext, build_review_graph
from store import alert_ops, alerts
from store.ids import now_iso
from studio.checkpointer import open_checkpointer
from studio.feedback import FeedbackService
from studio.metrics import Metrics

log = logging.getLogger(__name__)
STALE_CLAIM_S = 120.0


class ReviewService:
    """Built by the composition root; started with the API (it needs the running event loop)."""

    def __init__(self, settings: Settings, engine: Engine, profiles: dict[str, Profile], metrics: Metrics,
                 feedback: FeedbackService) -> None:
        self.settings = settings
        self.engine = engine
        self.profiles = profiles
        self.metrics = metrics
        self.feedback = feedback
        self.graph: Any = None
        self._stack: AsyncExitStack | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def start(self, *, triager: bool = True) -> None:
        self._loop = asyncio.get_running_loop()
        self._stack = AsyncExitStack()
        saver = await self._stack.enter_async_context(open_checkpointer(self.settings))
        self.graph = build_review_graph(saver)
        await self.refresh_metrics()
        if triager:
            self._task = asyncio.create_task(self._triager(), name="review-triager")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._stack is not None:
            await self._stack.aclose()

    def wake(self, alert_ids: list[str] | None = None) -> None:
        """Thread-safe: a decision batch just opened or escalated alerts."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _triager(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.review_poll_s)
            self._wake.clear()
            try:
                ids = await asyncio.to_thread(alert_ops.pending_triage, self.engine,
                                              explanation_wait_s=self.settings.review_explanation_wait_s,
                                              stale_s=STALE_CLAIM_S)
            except Exception:  # a database hiccup: try again at the next poll
                log.exception("review triager: listing alerts to triage")
                continue
            for alert_id in ids:
                try:
                    await self.triage(alert_id)
                except Exception:  # left claimed: retried once the claim is stale (STALE_CLAIM_S)
                    log.exception("review triager: alert %s", alert_id)

    # -- running threads -----------------------------------------------------------------------------------
    def _config(self, alert_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": alert_id}}

    def _context(self) -> ReviewContext:
        return ReviewContext(engine=self.engine, label_limit=self.settings.review_label_limit,
                             record_feedback=self.feedback.record, on_resolved=self._resolved)

    async def _resolved(self, alert: Alert, verdict: str) -> None:
        self.metrics.review_verdicts.labels(alert["profile"], verdict).inc()
        if alert["resolved_at"]:
            opened = datetime.fromisoformat(alert["opened_at"].replace("Z", "+00:00"))
            resolved = datetime.fromisoformat(alert["resolved_at"].replace("Z", "+00:00"))
            self.metrics.review_seconds.labels(alert["profile"]).observe(max(0.0, (resolved - opened).total_seconds()))
        await self.refresh_metrics()

    def _lock(self, alert_id: str) -> asyncio.Lock:
        """One review step per alert at a time in this process (the database claim covers other processes);
        a lock lives as long as someone holds or waits for it."""
        lock = self._locks.get(alert_id)
        if lock is None:
            lock = self._locks[alert_id] = asyncio.Lock()
        return lock

    @staticmethod
    def _fresh(alert_id: str, verdict: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"alert_id": alert_id, "triage": {}, "approval_required": False, "verdict": verdict, "result": None}

    async def triage(self, alert_id: str) -> str | None:
        """Start (or restart, after an escalation) the alert's review thread: it ends paused for a person
        (awaiting_review) or triaged. Returns the new status, None when another worker holds the alert."""
        async with self._lock(alert_id):
            claimed = await asyncio.to_thread(alert_ops.claim, self.engine, alert_id, to="triaging",
                                              from_statuses=("pending",), stale_s=STALE_CLAIM_S)
            if not claimed:
                return None
            out = await self.graph.ainvoke(self._fresh(alert_id), self._config(alert_id), context=self._context())
            status = "awaiting_review" if out.get("__interrupt__") else "triaged"
            await asyncio.to_thread(alert_ops.set_review_status, self.engine, alert_id, status, only_from="triaging")
            return status

    async def review(self, alert_id: str, *, verdict: str, note: str, actor: str,
                     duplicate_of: str | None = None) -> dict[str, Any]:
        """A person's verdict: resume the thread paused at its interrupt, or run it with the verdict as input."""
        if verdict not in VERDICTS:
            raise ValidationFailed(f"unknown verdict {verdict!r}")
        row = await asyncio.to_thread(alerts.get, self.engine, alert_id)
        if row is None:
            raise NotFound(f"no alert {alert_id!r}")
        if row["state"] == "resolved":
            raise Conflict(f"alert {alert_id} is already resolved ({row['resolution']})")
        if duplicate_of is not None and (duplicate_of == alert_id or
                                         await asyncio.to_thread(alerts.get, self.engine, duplicate_of) is None):
            raise ValidationFailed(f"duplicate_of {duplicate_of!r} is not another alert")
        answer = {"verdict": verdict, "note": note, "reviewer": actor, "duplicate_of": duplicate_of, "at": now_iso()}
        async with self._lock(alert_id):
            previous = row["review_status"]
            claimed = await asyncio.to_thread(
                alert_ops.claim, self.engine, alert_id, to="applying",
                from_statuses=("pending", "awaiting_review", "triaged"), stale_s=STALE_CLAIM_S)
            if not claimed:
                raise Conflict(f"alert {alert_id} is being triaged or reviewed right now; try again")
            try:
                out = await self._resume_or_run(alert_id, answer)
            except Exception:
                await asyncio.to_thread(alert_ops.set_review_status, self.engine, alert_id,
                                        previous if previous != "applying" else "pending", only_from="applying")
                raise
        result = out.get("result")
        if not result:
            raise Conflict(f"the review of alert {alert_id} did not complete")
        return result

    async def _resume_or_run(self, alert_id: str, answer: dict[str, Any]) -> dict[str, Any]:
        cfg, ctx = self._config(alert_id), self._context()
        state = await self.graph.aget_state(cfg)
        if state.interrupts:
            return dict(await self.graph.ainvoke(Command(resume=answer), cfg, context=ctx))
        if state.next == ("apply",):  # an apply that failed half-way: finish it, with this reviewer's verdict
            await self.graph.aupdate_state(cfg, {"verdict": answer}, as_node="await_review")
            return dict(await self.graph.ainvoke(None, cfg, context=ctx))
        out = dict(await self.graph.ainvoke(self._fresh(alert_id, answer), cfg, context=ctx))
        if out.get("__interrupt__"):  # approval required: the person answering is the approval
            out = dict(await self.graph.ainvoke(Command(resume=answer), cfg, context=ctx))
        return out

    async def thread(self, alert_id: str) -> dict[str, Any]:
        """The review thread as stored by the checkpointer: where it stands and what it waits for."""
        state = await self.graph.aget_state(self._config(alert_id))
        values = state.values or {}
        return {"thread_id": alert_id, "next": list(state.next),
                "waiting_for": [i.value for i in state.interrupts] or None,
                "verdict": values.get("verdict"), "result": values.get("result")}

    async def refresh_metrics(self) -> None:
        """Per-model precision on reviewed decisions, from the database (so every replica reports the same)."""
        thresholds = {n: p.thresholds.alert for n, p in self.profiles.items()}
        rows = await asyncio.to_thread(alerts.reviewed_outputs, self.engine)
        self.metrics.set_review_precision(rows, thresholds)
