"""The overseer service: provider, prompts, job policy and queue, running one job, and waiting for a result."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy import Engine

from core import log_context, tracing
from core.domain import Decision, Explanation
from core.profiles import Profile
from core.settings import Settings
from graph.explanation import ExplanationContext, build_explanation_graph
from graph.narrator import narrate as template_text
from prompts import load_prompt, parse_pins
from store import explanations
from store.audit import AuditRecord
from store.decisions import get_decision
from store.explanations import JOBS, NOTICES, ExplanationPolicy
from store.ids import now_iso
from store.jobs import Lease, LeaseQueue
from studio.llm import LlmCircuitOpen, LlmUnavailable, make_provider

log = logging.getLogger(__name__)
PROMPTS = ("judge", "explain")


class Overseer:
    """Built once by the composition root (or `studio worker`); shared by the API and the workers."""

    def __init__(self, settings: Settings, engine: Engine, profiles: dict[str, Profile], metrics: Any = None) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.provider = make_provider(settings, metrics)
        pins = parse_pins(settings.prompt_versions)
        self.prompts = {n: load_prompt(n, pins.get(n), settings.prompts_dir) for n in PROMPTS}
        actions = frozenset(a.strip() for a in settings.explanation_actions.split(",") if a.strip())
        self.policy = ExplanationPolicy(llm=self.provider is not None, actions=actions,
                                        max_attempts=settings.explanation_max_attempts)
        self.queue = LeaseQueue(engine, JOBS, lease_s=settings.explanation_lease_s,
                                backoff_s=settings.explanation_backoff_s)
        self.graph = build_explanation_graph()
        names: set[str] = set()
        for p in profiles.values():
            names.update(p.models.all())
            if p.models.meta:
                names.add(p.models.meta)
        self.known_models = frozenset(names)
        self.thresholds = {name: p.thresholds.model_dump() for name, p in profiles.items()}
        self._waiters: dict[str, set[asyncio.Event]] = {}

    # -- running a job ------------------------------------------------------------------------------------------
    def context(self, lease: Lease, profile: str) -> ExplanationContext:
        return ExplanationContext(provider=self.provider, prompts=self.prompts, engine=self.engine, queue=self.queue,
                                  lease=lease, known_models=self.known_models,
                                  thresholds=self.thresholds.get(profile, {}),
                                  history_limit=self.settings.overseer_history,
                                  webhook_attempts=self.settings.webhook_max_attempts)

    async def run_job(self, lease: Lease) -> str:
        """One claimed job to its end: done, lost (another worker holds it now), failed (retried later) or dead."""
        decision_id = lease.row["decision_id"]
        log_context.decision_id.set(decision_id)  # this worker task's log lines are about this decision
        with tracing.span("explanation.job", **{"studio.decision_id": decision_id}):
            return await self._run_job(lease, decision_id)

    async def _run_job(self, lease: Lease, decision_id: str) -> str:
        decision = await asyncio.to_thread(get_decision, self.engine, decision_id)
        try:
            if decision is None:
                raise LookupError(f"decision {decision_id} not found")
            if lease.attempt > lease.max_attempts:  # a lease that expired on the last attempt
                raise RuntimeError("no attempts left")
            out = await self.graph.ainvoke({"decision": decision}, context=self.context(lease, decision["profile"]))
            status = "done" if out.get("completed") else "lost"
            if self.metrics is not None:
                self.metrics.explanations.labels(
                    out["explanation"]["provider"] if status == "done" else "lost").inc()
        except LlmCircuitOpen as exc:  # the endpoint is failing: the template explanation now, no retries
            status = await self._failed(lease, decision, exc.reason, [exc.call.to_json()], final=True)
        except LlmUnavailable as exc:
            status = await self._failed(lease, decision, exc.reason, [exc.call.to_json()])
        except Exception as exc:  # a bug or a database problem: retried like an outage, never lost
            log.exception("explanation job %s failed", lease.id)
            status = await self._failed(lease, decision, f"{type(exc).__name__}: {exc}"[:300], [])
        self.notify(decision_id)
        return status

    async def _failed(self, lease: Lease, decision: Decision | None, error: str,
                      calls: list[dict[str, Any]], *, final: bool = False) -> str:
        d_id = lease.row["decision_id"]
        base = {"decision_id": d_id, "job_id": lease.id, "job_attempt": lease.attempt, "error": error, "calls": calls}
        last = final or lease.attempt >= lease.max_attempts
        fallback = {}
        if decision is not None:
            notice = NOTICES["circuit_open" if final else "failed"]
            fallback = {**decision["explanation"], "status": "failed", "provider": "template",
                        "text": template_text(decision), "notice": notice, "verdict": None,
                        "governor_overrode_llm": False, "error": error, "attempt": lease.attempt, "job_id": lease.id,
                        "completed_at": now_iso()}
        action = "explanation.failed" if last else "explanation.attempt_failed"
        records = [AuditRecord("overseer", action, "decision", d_id,
                               {**base, "fallback": "template" if last else None,
                                "max_attempts": lease.max_attempts})]
        status = await asyncio.to_thread(explanations.fail, self.queue, lease, decision_id=d_id, error=error,
                                         fallback=fallback, records=records,
                                         webhook_attempts=self.settings.webhook_max_attempts, final=final)
        status = status or "lost"
        if self.metrics is not None:
            self.metrics.explanations.labels("failed" if last else "retry").inc()
        return status

    # -- callers that wait --------------------------------------------------------------------------------------
    def notify(self, decision_id: str) -> None:
        for ev in self._waiters.get(decision_id, ()):
            ev.set()

    async def request(self, decision_id: str, actor: str = "api") -> dict[str, Any] | None:
        """On demand (explain=wait): a job for a decision that has none; None without an LLM endpoint."""
        if self.provider is None:
            return None
        return await asyncio.to_thread(explanations.request, self.engine, decision_id, self.policy, actor)

    async def read(self, decision_id: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(explanations.read, self.engine, decision_id)

    async def watch(self, decision_id: str, timeout_s: float, poll_s: float = 0.25) -> Any:
        """Yield the explanation state whenever it may have changed, until it is final or the time is up.
        In-process completions wake the watcher at once; other workers' completions are seen by polling."""
        ev = asyncio.Event()
        self._waiters.setdefault(decision_id, set()).add(ev)
        deadline = time.monotonic() + max(0.0, timeout_s)
        try:
            while True:
                ev.clear()
                state = await self.read(decision_id)
                yield state
                left = deadline - time.monotonic()
                if state is None or state["explanation"].get("status") in explanations.TERMINAL or left <= 0:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ev.wait(), min(poll_s, left))
        finally:
            waiters = self._waiters.get(decision_id)
            if waiters is not None:
                waiters.discard(ev)
                if not waiters:
                    self._waiters.pop(decision_id, None)

    async def wait(self, decision_id: str, timeout_s: float) -> dict[str, Any] | None:
        """The explanation state once final, or as it stands when the time is up."""
        last = None
        async for state in self.watch(decision_id, timeout_s):
            last = state
        return last

    async def explain_wait(self, decision: Decision, timeout_ms: int) -> Explanation:
        """For `?explain=wait`: enqueue on demand if the decision has no job, then wait (capped) for the result."""
        exp = decision["explanation"]
        if exp.get("status") != "pending" and await self.request(decision["id"]) is None:
            return exp  # no LLM endpoint: the template explanation is already final
        state = await self.wait(decision["id"], self.wait_cap_s(timeout_ms))
        return state["explanation"] if state else exp

    def wait_cap_s(self, timeout_ms: int) -> float:
        """How long a caller may wait for an explanation: what it asked, at most STUDIO_EXPLANATION_WAIT_MAX_MS."""
        return min(timeout_ms, self.settings.explanation_wait_max_ms) / 1000.0
