"""The deterministic governor: hard rules, quorum, caps, final action, and when to ask the overseer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.domain import GovernorRuling, RuleFired
from core.profiles import Thresholds
from policies.rules import ACTION_RANK

LABELS = {"none": "normal", "watch": "suspicious", "alert": "incident", "critical": "incident", "review": "needs_review"}


@dataclass
class Ruling:
    action: str
    severity: int
    label: str
    actions: list[dict[str, Any]] = field(default_factory=list)
    ask_overseer: bool = False
    overseer_reasons: list[str] = field(default_factory=list)
    hard_floor: str = "none"  # the action hard rules set; nothing downstream may go below it

    def to_json(self) -> GovernorRuling:
        return {
            "action": self.action, "severity": self.severity, "label": self.label, "actions": self.actions,
            "ask_overseer": self.ask_overseer, "overseer_reasons": self.overseer_reasons,
            "hard_floor": self.hard_floor,
        }


def severity_from_score(p: float) -> int:
    return int(max(0, min(10, round(10.0 * float(p)))))


def score_action(p: float, t: Thresholds) -> str:
    if p >= t.critical:
        return "critical"
    if p >= t.alert:
        return "alert"
    if p >= t.watch:
        return "watch"
    return "none"


def _raise(current: str, to: str) -> str:
    return to if ACTION_RANK[to] > ACTION_RANK[current] else current


def govern(
    *,
    score: float,
    disagreement: float,
    thresholds: Thresholds,
    fired_rules: list[RuleFired],
    answered: int,
    expected: int,
    alarm: bool | None = None,
) -> Ruling:
    """Apply, in order: score thresholds (through the alarm stage where the profile has one), soft rules,
    quorum, caps, hard rules (last, so nothing beats them)."""
    actions: list[dict[str, Any]] = []
    action = score_action(score, thresholds)
    severity = severity_from_score(score)
    if action != "none":
        actions.append({"rule": f"governor.threshold.{action}", "action": action,
                        "detail": f"combined score {score:.3f} >= {getattr(thresholds, action)}"})
    if alarm is not None:  # the alarm stage decides whether the score opens an incident
        if alarm and ACTION_RANK[action] < ACTION_RANK["alert"]:
            action = "alert"
            actions.append({"rule": "governor.alarm", "action": action, "detail": "the alarm stage raised an alarm"})
        elif not alarm and ACTION_RANK[action] >= ACTION_RANK["alert"]:
            action = "watch"
            actions.append({"rule": "governor.alarm_quiet", "action": action,
                            "detail": "score above the alert line but no alarm (same episode or refractory period)"})

    for r in (r for r in fired_rules if not r["hard"]):
        before = action
        action = _raise(action, r["action"])
        severity = max(severity, r["min_severity"])
        actions.append({"rule": r["rule"], "action": r["action"], "detail": f"soft rule fired ({before} -> {action})"})

    quorum_needed = thresholds.quorum * expected
    if expected and answered < quorum_needed:
        action = _raise(action, "review")
        actions.append({"rule": "governor.quorum", "action": "review",
                        "detail": f"{answered} of {expected} models answered, quorum {thresholds.quorum:.0%}"})

    hard = [r for r in fired_rules if r["hard"]]
    cap = thresholds.max_severity_without_hard_rule
    if severity > cap and not hard:
        actions.append({"rule": "governor.severity_cap", "action": action,
                        "detail": f"severity {severity} capped at {cap} without a hard rule"})
        severity = cap

    hard_floor = "none"
    for r in hard:
        hard_floor = _raise(hard_floor, r["action"])
        action = _raise(action, r["action"])
        severity = max(severity, r["min_severity"])
        actions.append({"rule": r["rule"], "action": r["action"], "detail": "hard rule: cannot be overridden"})

    reasons = []
    if disagreement > thresholds.overseer_disagreement:
        reasons.append(f"disagreement {disagreement:.2f} > {thresholds.overseer_disagreement}")
    for name in ("watch", "alert", "critical"):
        cut = getattr(thresholds, name)
        if abs(score - cut) < thresholds.boundary_margin:
            reasons.append(f"score {score:.3f} within {thresholds.boundary_margin} of the {name} boundary")
    return Ruling(action=action, severity=int(severity), label=LABELS[action], actions=actions,
                  ask_overseer=bool(reasons), overseer_reasons=reasons, hard_floor=hard_floor)


def exploration_allowed(provisional_severity: int, fired_rules: list[RuleFired], thresholds: Thresholds) -> bool:
    """The router may explore only on calm events: no hard rule, severity below the profile's limit."""
    if any(r["hard"] for r in fired_rules):
        return False
    floor = max((r["min_severity"] for r in fired_rules), default=0)
    return max(provisional_severity, floor) < thresholds.exploration_off_severity


def action_at_least(action: str, floor: str) -> bool:
    return ACTION_RANK[action] >= ACTION_RANK[floor]
