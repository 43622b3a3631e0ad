"""govern(..., alarm=...): the alarm stage decides whether a score opens an incident. True raises to alert,
False demotes alert/critical to watch, None leaves the thresholds alone; rules still apply after it."""

from __future__ import annotations

from core.profiles import Thresholds
from policies.governor import govern

T = Thresholds(watch=0.95, alert=0.99, critical=0.999, quorum=0.5, overseer_disagreement=0.35, boundary_margin=0.003)
HARD = {"rule": "ops.hard", "action": "critical", "min_severity": 9, "hard": True, "values": {}}
SOFT_ALERT = {"rule": "ops.soft", "action": "alert", "min_severity": 6, "hard": False, "values": {}}


def _action(score: float, alarm: bool | None, rules: list | None = None, answered: int = 12) -> str:
    return govern(score=score, disagreement=0.0, thresholds=T, fired_rules=rules or [], answered=answered,
                  expected=12, alarm=alarm).action


def test_alarm_none_is_the_plain_threshold_behaviour() -> None:
    for score, want in ((0.5, "none"), (0.96, "watch"), (0.992, "alert"), (0.9995, "critical")):
        assert _action(score, None) == want
        plain = govern(score=score, disagreement=0.0, thresholds=T, fired_rules=[], answered=12, expected=12)
        assert plain.action == want and not any(a["rule"].startswith("governor.alarm") for a in plain.actions)


def test_an_alarm_raises_a_low_score_to_alert_and_never_lowers_critical() -> None:
    r = govern(score=0.3, disagreement=0.0, thresholds=T, fired_rules=[], answered=12, expected=12, alarm=True)
    assert r.action == "alert" and r.label == "incident"
    assert any(a["rule"] == "governor.alarm" for a in r.actions)
    assert _action(0.96, True) == "alert"
    assert _action(0.992, True) == "alert"
    r = govern(score=0.9995, disagreement=0.0, thresholds=T, fired_rules=[], answered=12, expected=12, alarm=True)
    assert r.action == "critical" and not any(a["rule"] == "governor.alarm" for a in r.actions)


def test_no_alarm_demotes_alert_and_critical_to_watch_only() -> None:
    for score in (0.992, 0.9995):
        r = govern(score=score, disagreement=0.0, thresholds=T, fired_rules=[], answered=12, expected=12, alarm=False)
        assert r.action == "watch" and r.label == "suspicious"
        assert any(a["rule"] == "governor.alarm_quiet" for a in r.actions)
    assert _action(0.96, False) == "watch"
    assert _action(0.5, False) == "none"


def test_rules_and_quorum_still_apply_after_the_alarm_stage() -> None:
    assert _action(0.9995, False, [HARD]) == "critical"  # a hard rule beats a quiet alarm stage
    assert _action(0.5, False, [SOFT_ALERT]) == "alert"  # soft rules raise after the stage
    assert _action(0.3, False, answered=2) == "review"  # too few answers: abstain
    assert _action(0.3, True, answered=2) == "alert"  # review ranks with alert: an alarm is not taken back
