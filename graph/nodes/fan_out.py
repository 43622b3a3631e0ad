"""fan_out: every model of the profile and the SLM chain, concurrently, each under a timeout."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from langgraph.runtime import Runtime

from core import tracing
from graph.calibrate import rank_causally
from graph.context import DecisionContext
from graph.state import DecisionState
from tools.models import run_model
from tools.results import ToolResult
from tools.slm import run_slms


async def fan_out(state: DecisionState, runtime: Runtime[DecisionContext]) -> dict[str, Any]:
    ctx = runtime.context
    rt = ctx.runtime
    bundle, batch, events = state["bundle"], state["batch"], state["events"]
    loop = asyncio.get_running_loop()
    began = time.time_ns() if tracing.enabled else 0

    async def one(name: str, model: Any) -> ToolResult:
        start = time.perf_counter()
        version = bundle.version_of(name)
        try:
            if ctx.executor is None:
                return run_model(model, version, batch)
            fut = loop.run_in_executor(ctx.executor, run_model, model, version, batch)
            return await asyncio.wait_for(fut, ctx.tool_timeout_s)
        except TimeoutError:
            return ToolResult(name, version, model.family, "timeout",
                              error=f"no answer within {ctx.tool_timeout_s * 1000:.0f} ms",
                              latency_ms=(time.perf_counter() - start) * 1000)
        except Exception as exc:  # a failing model is reported, never fails the decision
            return ToolResult(name, version, model.family, "failed", error=f"{type(exc).__name__}: {exc}",
                              latency_ms=(time.perf_counter() - start) * 1000)

    if ctx.executor is None or len(events) < ctx.inline_below:
        results = [_timed_inline(n, m, bundle.version_of(n), batch, ctx.tool_timeout_s) for n, m in bundle.models.items()]
        slm = run_slms(rt, events, batch, ctx.lookups)
    else:
        slm_task = loop.run_in_executor(ctx.executor, run_slms, rt, events, batch, ctx.lookups)
        results = list(await asyncio.gather(*(one(n, m) for n, m in bundle.models.items())))
        slm = await slm_task
    outputs: dict[str, ToolResult] = {r.name: r for r in results}
    for name, reason in bundle.failures.items():
        if name in rt.profile.models.all() and name not in outputs:
            outputs[name] = ToolResult(name, None, "unknown", "failed", error=f"not loaded: {reason}")
    for res in outputs.values():
        if res.status == "ok" and res.scores is not None and res.scores.new_states:
            for stream, model_state in res.scores.new_states.items():
                batch.states[stream].model_state[res.name] = model_state
        if ctx.metrics is not None:
            ctx.metrics.model_latency(rt.profile.name, res.name, res.status, res.latency_ms)
        if tracing.enabled:  # each model tool's run (in a pool thread or inline) as a child of this node
            start = res.started_ns or began
            tracing.record_span(f"model.{res.name}", start, start + int(res.latency_ms * 1e6),
                                **{"studio.model": res.name, "studio.model_version": res.version or "",
                                   "studio.status": res.status, "studio.events": len(events)})
    if rt.profile.features is not None and rt.profile.features.calibration == "causal":
        rank_causally(outputs, batch, bundle)
    return {"outputs": outputs, "slm": slm}


def _timed_inline(name: str, model: Any, version: str | None, batch: Any, timeout_s: float) -> ToolResult:
    """Small batches run in the event loop's thread (a thread hop costs more than the model); an answer that
    arrives after the timeout is discarded exactly as in the pooled path."""
    start = time.perf_counter()
    try:
        res = run_model(model, version, batch)
    except Exception as exc:  # a failing model is reported, never fails the decision
        return ToolResult(name, version, model.family, "failed", error=f"{type(exc).__name__}: {exc}",
                          latency_ms=(time.perf_counter() - start) * 1000)
    if res.latency_ms > timeout_s * 1000:
        return ToolResult(name, version, model.family, "timeout", error=f"no answer within {timeout_s * 1000:.0f} ms",
                          latency_ms=res.latency_ms)
    return res

