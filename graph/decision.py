"""The decision graph: prepare -> fan_out (models and SLMs in parallel) -> combine (router, then score) -> govern
-> persist."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from graph.context import DecisionContext
from graph.nodes.combine import combine
from graph.nodes.fan_out import fan_out
from graph.nodes.govern import govern
from graph.nodes.persist import persist
from graph.nodes.prepare import prepare
from graph.state import DecisionState

NODES = (("prepare", prepare), ("fan_out", fan_out), ("combine", combine),
         ("govern", govern), ("persist", persist))


def build_decision_graph() -> Any:
    """Compile once at start-up; every profile runs the same graph with its own runtime context."""
    g = StateGraph(DecisionState, context_schema=DecisionContext)
    for name, fn in NODES:
        g.add_node(name, fn)
    g.add_edge(START, NODES[0][0])
    for (a, _), (b, _) in zip(NODES, NODES[1:], strict=False):
        g.add_edge(a, b)
    g.add_edge(NODES[-1][0], END)
    return g.compile(name="decision")
