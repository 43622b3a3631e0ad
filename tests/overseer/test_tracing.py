"""Traces (OpenTelemetry, in-memory exporter): one decision's spans form a tree from the request to the
database, and one explanation's from its job to its LLM calls; with tracing off nothing is recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core import tracing
from core.events import Event
from tests.llm_server import ScriptedLLM
from tests.overseer.conftest import API_KEY
from tests.overseer.scripts import judged, narrated, narration, verdict

pytest.importorskip("opentelemetry.sdk")
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

EXPORTER = InMemorySpanExporter()


@pytest.fixture
def traced(settings: Any) -> Iterator[InMemorySpanExporter]:  # type: ignore[no-untyped-def]
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    from studio import telemetry

    telemetry.configure(settings, EXPORTER)  # the process's one tracer provider (set once, kept)
    tracing.enabled = True
    EXPORTER.clear()
    try:
        yield EXPORTER
    finally:
        tracing.enabled = False  # the rest of the suite runs untraced
        HTTPXClientInstrumentor().uninstrument()


def children(spans: list[Any], parent: Any) -> list[Any]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


async def test_one_decision_is_a_tree_from_the_request_to_the_database(traced: InMemorySpanExporter, settings: Any,  # type: ignore[no-untyped-def]
                                                                        llm: ScriptedLLM, overseer_profiles: Path) -> None:
    from studio.bootstrap import build_studio, start, stop

    llm.script(judged(verdict()), narrated(narration()))
    s = settings.model_copy(update={"llm_base_url": llm.base_url, "llm_model": "scripted-1", "llm_api_key": API_KEY,
                                    "profiles_dir": overseer_profiles, "explanation_poll_s": 0.05,
                                    "drift_interval_s": 0.0, "ops_gauges_interval_s": 0.0})
    st = build_studio(s, train=False)
    await start(st)
    try:
        with trace.get_tracer("test").start_as_current_span("POST /v1/decisions") as request:
            [d] = await st.runner.decide([Event(profile="peg", stream="USDC", ts=1678521600.0, value=0.97,
                                                features={}, context={"token": "USDC"}, index=0)])
        for _ in range(200):  # the overseer's job, asked on every peg decision by these profiles
            state = await st.overseer.read(d["id"]) if st.overseer else None
            if state and state["explanation"].get("status") in ("ready", "failed"):
                break
            await asyncio.sleep(0.05)
        assert state and state["explanation"]["status"] == "ready", state
    finally:
        await stop(st)
    spans = list(traced.get_finished_spans())
    by_name: dict[str, list[Any]] = {}
    for sp in spans:
        by_name.setdefault(sp.name, []).append(sp)
    root = next(sp for sp in spans if sp.context.span_id == request.get_span_context().span_id)
    [submit] = [sp for sp in children(spans, root) if sp.name == "decision.submit"]
    [batch] = [b for b in by_name["decision.batch"] if any(lk.context.span_id == submit.context.span_id
                                                            for lk in b.links)]
    steps = {sp.name for sp in children(spans, batch)}
    assert {"decision.prepare", "decision.fan_out", "decision.combine", "decision.alarm", "decision.govern",
            "decision.persist"} <= steps
    [fan_out] = [sp for sp in children(spans, batch) if sp.name == "decision.fan_out"]
    models = {sp.name for sp in children(spans, fan_out)}
    assert {f"model.{n}" for n in st.runtimes["peg"].bundle.models} <= models
    [persist] = [sp for sp in children(spans, batch) if sp.name == "decision.persist"]
    assert d["id"] in persist.attributes["studio.decision_ids"]

    def under(sp: Any, ancestor: Any) -> bool:
        index = {x.context.span_id: x for x in spans}
        while sp.parent is not None:
            if sp.parent.span_id == ancestor.context.span_id:
                return True
            sp = index.get(sp.parent.span_id)
            if sp is None:
                return False
        return False

    db = [sp for sp in spans if sp.attributes and sp.attributes.get("db.system") and under(sp, persist)]
    assert any("INSERT" in (sp.attributes.get("db.statement") or sp.name) for sp in db), [sp.name for sp in db]

    [job] = [sp for sp in by_name["explanation.job"] if sp.attributes["studio.decision_id"] == d["id"]]
    calls = [sp for sp in spans if sp.name == "llm.call" and under(sp, job)]
    assert {sp.attributes["studio.purpose"] for sp in calls} >= {"judge"}
    assert all(sp.attributes["gen_ai.request.model"] == "scripted-1" for sp in calls)
    assert all(c.end_time > c.start_time for c in calls)


def test_tracing_off_records_nothing() -> None:
    assert tracing.enabled is False
    before = len(EXPORTER.get_finished_spans())
    with tracing.span("decision.fan_out"):
        tracing.record_span("model.x", 0, 1)
    assert tracing.current_context() is None and len(EXPORTER.get_finished_spans()) == before
