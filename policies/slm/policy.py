"""Policy SLM: evaluate a rule pack's declarative rules against one event's namespace."""

from __future__ import annotations

from typing import Any

from policies.expr import ExpressionError
from policies.rules import RulePack


def evaluate_rules(pack: RulePack, namespace: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(fired rules with the values they read, rules that could not be evaluated and why)."""
    fired, errors = [], []
    for rule, expr, names in pack.compiled:
        try:
            hit = bool(expr(namespace))
        except ExpressionError as exc:
            errors.append({"rule": rule.id, "error": str(exc)})
            continue
        if hit:
            fired.append({
                "rule": rule.id, "action": rule.action, "min_severity": rule.min_severity, "hard": rule.hard,
                "values": {n: _plain(namespace.get(n)) for n in names},
                "description": rule.description,
            })
    return fired, errors


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value
