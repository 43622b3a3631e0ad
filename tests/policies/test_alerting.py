"""policies/alerting.py: joining a decision to an unresolved alert, without a database: the action only rises,
a snooze suppresses lower or equal severities and escalates (reopens) on a higher one, a raised alert is
triaged again."""

from __future__ import annotations

from typing import Any

from policies.alerting import ALERTING, join_alert, new_alert


def decision(action: str, severity: int, at: str = "2026-12-07T10:00:00Z", i: int = 0) -> dict[str, Any]:
    return {"id": f"dec_{i}", "created_at": at, "profile": "peg", "stream": "USDC", "action": action,
            "severity": severity, "governor": {"actions": []}, "inputs": {}}


def opened(action: str = "alert", severity: int = 6) -> dict[str, Any]:
    return new_alert("alr_1", decision(action, severity), "peg|USDC|r", None, "r")


def test_a_new_alert_starts_open_pending_with_its_decision() -> None:
    row = opened()
    assert (row["state"], row["review_status"], row["decision_count"], row["severity"]) == ("open", "pending", 1, 6)
    assert {"alert", "critical", "review"} == ALERTING


def test_joining_raises_the_action_never_lowers_it_and_keeps_the_max_severity() -> None:
    row = opened("critical", 9)
    j = join_alert(row, decision("alert", 5, at="2026-12-07T10:05:00Z", i=2))
    assert (j.action, j.suppressed) == ("alert.joined", False)
    assert (row["action"], row["severity"], row["decision_count"], row["last_decision_id"]) == ("critical", 9, 2, "dec_2")


def test_a_snooze_suppresses_equal_severity_and_escalates_on_a_higher_one() -> None:
    row = opened("alert", 6)
    row.update(state="acknowledged", snoozed_until="2026-12-07T12:00:00Z", snoozed_severity=6, review_status="triaged")
    held = join_alert(row, decision("alert", 6, at="2026-12-07T10:10:00Z", i=3))
    assert (held.action, held.suppressed, row["state"], row["review_status"]) == ("alert.joined", True,
                                                                                    "acknowledged", "triaged")
    up = join_alert(row, decision("critical", 9, at="2026-12-07T10:20:00Z", i=4))
    assert (up.action, up.suppressed) == ("alert.escalated", False)
    assert (row["state"], row["snoozed_until"], row["escalations"], row["review_status"]) == ("open", None, 1, "pending")
    assert up.extra["previous"]["snoozed_severity"] == 6


def test_an_expired_snooze_does_not_suppress() -> None:
    row = opened()
    row.update(snoozed_until="2026-12-07T09:00:00Z", snoozed_severity=9)
    assert join_alert(row, decision("alert", 6, at="2026-12-07T10:00:00Z")).suppressed is False
