"""The governor: a hard rule beats any score and any router arm; quorum, caps, overseer triggers."""

from __future__ import annotations

import itertools

from core.profiles import Thresholds
from policies.governor import exploration_allowed, govern

T = Thresholds(watch=0.5, alert=0.8, critical=0.95, quorum=0.5, overseer_disagreement=0.35, boundary_margin=0.03)
HARD = {"rule": "peg.hard_depeg", "action": "critical", "min_severity": 9, "hard": True, "values": {}}
SOFT = {"rule": "peg.soft_depeg", "action": "watch", "min_severity": 4, "hard": False, "values": {}}


def test_hard_rule_beats_any_score_and_any_quorum() -> None:
    for score, answered in itertools.product([0.0, 0.2, 0.6, 0.99], [0, 3, 12]):
        r = govern(score=score, disagreement=0.0, thresholds=T, fired_rules=[HARD], answered=answered, expected=12)
        assert r.action == "critical" and r.severity >= 9 and r.hard_floor == "critical"
        assert any(a["rule"] == "peg.hard_depeg" for a in r.actions)


def test_thresholds_soft_rules_and_caps() -> None:
    assert govern(score=0.1, disagreement=0, thresholds=T, fired_rules=[], answered=12, expected=12).action == "none"
    r = govern(score=0.1, disagreement=0, thresholds=T, fired_rules=[SOFT], answered=12, expected=12)
    assert r.action == "watch" and r.severity == 4 and r.actions[0]["rule"] == "peg.soft_depeg"
    r = govern(score=0.99, disagreement=0, thresholds=T, fired_rules=[], answered=12, expected=12)
    assert r.action == "critical" and r.severity == 9
    assert any(a["rule"] == "governor.severity_cap" for a in r.actions)


def test_quorum_abstains_to_review() -> None:
    r = govern(score=0.1, disagreement=0, thresholds=T, fired_rules=[], answered=2, expected=12)
    assert r.action == "review" and r.label == "needs_review"
    assert r.actions[-1]["rule"] == "governor.quorum"


def test_overseer_is_asked_on_disagreement_or_near_a_boundary() -> None:
    r = govern(score=0.3, disagreement=0.6, thresholds=T, fired_rules=[], answered=12, expected=12)
    assert r.ask_overseer and "disagreement" in r.overseer_reasons[0]
    r = govern(score=0.79, disagreement=0.0, thresholds=T, fired_rules=[], answered=12, expected=12)
    assert r.ask_overseer and "alert boundary" in r.overseer_reasons[0]
    r = govern(score=0.3, disagreement=0.1, thresholds=T, fired_rules=[], answered=12, expected=12)
    assert not r.ask_overseer


def test_exploration_is_off_when_severe() -> None:
    assert exploration_allowed(2, [], T)
    assert not exploration_allowed(2, [HARD], T)
    assert not exploration_allowed(7, [], T)
