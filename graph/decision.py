"""The decision graph: three nodes, six steps.

    fan_out   prepare (features from each event and its stream's state), then every model tool and the SLM
              chain in parallel
    combine   the router picks an arm per event, then the arm's score (or the profile's fixed combination),
              severity and disagreement, then the alarm stage (first point of a run above the alarm
              threshold, then a refractory period), then the deterministic governor rules (last, so nothing
              beats its hard rules)
    persist   decisions, audit events, alerts and stream states in one transaction

A LangGraph step costs about 0.3 ms whatever it does (an empty five-node graph: 1.9 ms per run, three nodes:
1.4 ms), a fixed cost every micro-batch pays, so sequential steps that need nothing from the framework between
them run inside one node (`steps`), each seeing the updates of the ones before it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from core import tracing
from core.domain import Decision
from core.events import Event
from graph.context import DecisionContext
from graph.nodes.alarm import alarm
from graph.nodes.combine import combine
from graph.nodes.fan_out import fan_out
from graph.nodes.govern import govern
from graph.nodes.persist import persist
from graph.nodes.prepare import prepare
from graph.state import DecisionState
from runtime.profile_runtime import ProfileRuntime
from store.ids import new_id

Step = Callable[[DecisionState, Runtime[DecisionContext]], Awaitable[dict[str, Any]]]


def steps(*fns: Step) -> Any:  # Any: what StateGraph.add_node accepts is a union of protocols
    """One graph node running `fns` in order; each sees the state updated by the ones before it, and the node
    returns all their updates."""
    async def node(state: DecisionState, runtime: Runtime[DecisionContext]) -> dict[str, Any]:
        update: dict[str, Any] = {}
        for fn in fns:
            with tracing.span(f"decision.{fn.__name__}"):
                update.update(await fn({**state, **update}, runtime))  # type: ignore[typeddict-item]
        return update

    node.__name__ = "_".join(fn.__name__ for fn in fns)
    return node


STEPS: tuple[tuple[str, tuple[Step, ...]], ...] = (
    ("fan_out", (prepare, fan_out)), ("combine", (combine, alarm, govern)), ("persist", (persist,)))


DecisionGraph = CompiledStateGraph[DecisionState, DecisionContext, DecisionState, DecisionState]


def build_decision_graph() -> DecisionGraph:
    """Compile once at start-up; every profile runs the same graph with its own runtime context."""
    g = StateGraph(DecisionState, context_schema=DecisionContext)
    for name, fns in STEPS:
        g.add_node(name, steps(*fns))
    g.add_edge(START, STEPS[0][0])
    for (a, _), (b, _) in zip(STEPS, STEPS[1:], strict=False):
        g.add_edge(a, b)
    g.add_edge(STEPS[-1][0], END)
    return g.compile(name="decision")


def batch_runner(graph: DecisionGraph, make_context: Callable[[ProfileRuntime], DecisionContext]
                 ) -> Callable[[ProfileRuntime, list[Event]], Awaitable[list[Decision]]]:
    """What the runner calls for each micro-batch: one graph run with the profile's context (runtime/runner.py)."""

    async def run(rt: ProfileRuntime, events: list[Event]) -> list[Decision]:
        out = await graph.ainvoke({"events": events, "batch_id": new_id("bat")}, context=make_context(rt))
        return out["decisions"]  # type: ignore[no-any-return]

    return run
