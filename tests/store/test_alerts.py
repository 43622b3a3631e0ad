"""Alert dedup in the decision transaction: the key (profile, stream or entity, rule), the sliding window, snooze
holding and escalating, and every change on the audit chain."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from policies.alerting import alert_rule, dedup_key
from store import alert_ops, alerts, audit_verify
from store.alerts import open_or_join
from store.engine import init_db, make_engine, write_tx
from store.ids import iso, now_iso

_ids = itertools.count()


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = make_engine(f"sqlite:///{tmp_path / 'alerts.db'}")
    init_db(eng)
    return eng


def decision(action: str, severity: int, *, stream: str | None = "USDC", rules: list[tuple[str, str]] | None = None,
             context: dict[str, Any] | None = None, profile: str = "peg") -> dict[str, Any]:
    actions = [{"rule": r, "action": a, "detail": ""} for r, a in (rules or [(f"governor.threshold.{action}", action)])]
    return {"id": f"dec_{next(_ids):04d}", "created_at": now_iso(), "profile": profile, "stream": stream,
            "action": action, "severity": severity, "governor": {"actions": actions},
            "inputs": {"context": context or {}}}


def write(engine: Engine, *ds: dict[str, Any], window_s: float = 3600.0) -> list[str]:
    with write_tx(engine) as conn:
        return open_or_join(conn, list(ds), window_s=window_s, actor="api")


def test_the_key_names_the_rule_that_set_the_action() -> None:
    d = decision("critical", 9, rules=[("governor.threshold.alert", "alert"), ("peg.fast_move", "alert"),
                                       ("governor.severity_cap", "alert"), ("peg.hard_depeg", "critical")])
    assert alert_rule(d) == "peg.hard_depeg" and dedup_key(d)[0] == "peg|USDC|peg.hard_depeg"
    soft = decision("alert", 7, rules=[("governor.threshold.alert", "alert"), ("peg.fast_move", "alert")])
    assert alert_rule(soft) == "peg.fast_move"
    assert alert_rule(decision("review", 3, rules=[("governor.quorum", "review")])) == "governor.quorum"
    tabular = decision("alert", 6, stream=None, profile="credit", context={"applicant_id": "A-17", "note": "x"})
    assert dedup_key(tabular) == ("credit|applicant_id=A-17|governor.threshold.alert", "applicant_id=A-17",
                                  "governor.threshold.alert")
    assert dedup_key(decision("alert", 6, stream=None, context={"entity": "acme"}))[1] == "acme"


def test_quiet_decisions_open_nothing_and_a_key_dedups_within_its_window(engine: Engine) -> None:
    assert write(engine, decision("watch", 4), decision("none", 0)) == []
    a, b = decision("alert", 6), decision("alert", 8)
    other = decision("alert", 6, stream="DAI")
    assert len(write(engine, a, b, other)) == 2
    rows = alerts.listing(engine)
    usdc = next(r for r in rows if r["stream"] == "USDC")
    assert usdc["decision_count"] == 2 and usdc["severity"] == 8 and usdc["first_decision_id"] == a["id"]
    assert usdc["last_decision_id"] == b["id"] and usdc["state"] == "open" and usdc["review_status"] == "pending"
    write(engine, decision("alert", 7))  # joins, within the window
    assert alerts.get(engine, usdc["id"])["decision_count"] == 3  # type: ignore[index]
    with engine.begin() as conn:  # an hour and a bit later, nothing joined: the window has passed
        conn.exec_driver_sql("UPDATE alerts SET last_seen_at = ? WHERE id = ?",
                             (iso(datetime.now(UTC) - timedelta(seconds=3700)), usdc["id"]))
    write(engine, decision("alert", 6))
    assert len([r for r in alerts.listing(engine, stream="USDC")]) == 2
    assert audit_verify.verify(engine)["ok"]


def test_a_snooze_holds_same_or_lower_severity_and_escalates_above_it(engine: Engine) -> None:
    write(engine, decision("critical", 9, rules=[("peg.hard_depeg", "critical")]))
    [row] = alerts.listing(engine)
    alert_ops.acknowledge(engine, row["id"], actor="maria")
    until = iso(datetime.now(UTC) + timedelta(hours=1))
    alert_ops.snooze(engine, row["id"], until=until, actor="maria", reason="waiting for the issuer")
    write(engine, decision("critical", 9, rules=[("peg.hard_depeg", "critical")]))
    held = alerts.get(engine, row["id"])
    assert held is not None and held["snoozed_until"] == until and held["state"] == "acknowledged"
    assert held["decision_count"] == 2 and held["escalations"] == 0
    write(engine, decision("critical", 10, rules=[("peg.hard_depeg", "critical")]))
    up = alerts.get(engine, row["id"])
    assert up is not None and up["snoozed_until"] is None and up["state"] == "open" and up["escalations"] == 1
    assert up["severity"] == 10
    detail = alerts.detail(engine, row["id"])
    assert detail is not None and [d["suppressed"] for d in detail["decisions"]] == [False, True, False]
    from store.audit_queries import list_events

    actions = [e["action"] for e in list_events(engine, subject_id=row["id"])]
    assert actions == ["alert.opened", "alert.acknowledged", "alert.snoozed", "alert.joined", "alert.escalated"]
    alert_ops.resolve(engine, row["id"], resolution="confirmed", actor="maria", note="", duplicate_of=None, review={})
    with pytest.raises(alert_ops.AlertRefused):
        alert_ops.acknowledge(engine, row["id"], actor="maria")
    write(engine, decision("critical", 9, rules=[("peg.hard_depeg", "critical")]))  # resolved: a new alert opens
    assert len(alerts.listing(engine)) == 2
    with pytest.raises(alert_ops.AlertMissing):
        alert_ops.assign(engine, "alr_nope", assignee="x", actor="maria")
    assert audit_verify.verify(engine)["ok"]


def test_an_escalation_past_triage_asks_for_triage_again(engine: Engine) -> None:
    write(engine, decision("alert", 6, rules=[("peg.fast_move", "alert")]))
    [row] = alerts.listing(engine)
    alert_ops.set_review_status(engine, row["id"], "triaged")
    assert write(engine, decision("alert", 7, rules=[("peg.fast_move", "alert")])) == []  # the triage stands
    alert_ops.snooze(engine, row["id"], until=iso(datetime.now(UTC) + timedelta(hours=1)), actor="m", reason="")
    assert write(engine, decision("alert", 9, rules=[("peg.fast_move", "alert")])) == [row["id"]]
    assert alerts.get(engine, row["id"])["review_status"] == "pending"  # type: ignore[index]
