"""bench.quality's pure helpers on tiny hand-made series (no replay, no training)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bench.quality import (
    calm_day_alerts,
    early_warning_hours,
    first_alert,
    hard_crossing,
    rule_thresholds,
    stream_report,
    time_split,
)

H = 3600.0
DAY0 = pd.Timestamp("2023-03-08", tz="UTC").timestamp()


def series() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three days, 12-hourly: a calm day with one false alert, a depeg day, a recovering day (watch only)."""
    ts = DAY0 + H * np.array([0, 12, 24, 30, 36, 42, 48, 60])
    values = np.array([1.0, 0.999, 0.995, 0.985, 0.97, 0.96, 1.004, 1.0])
    actions = np.array(["alert", "none", "watch", "alert", "none", "critical", "watch", "none"])
    return ts, values, actions


def test_first_alert_and_hard_crossing() -> None:
    ts, values, actions = series()
    assert first_alert(ts, actions) == DAY0  # the false alert of the calm day counts: it is the first alert
    assert first_alert(ts[1:], actions[1:]) == DAY0 + 30 * H
    assert hard_crossing(ts, values, 1.0, 0.02) == DAY0 + 36 * H  # 0.985 is 1.5% off, 0.97 is 3%
    assert hard_crossing(ts, np.array([1.0, 0.98, 1.0, 1, 1, 1, 1, 1]), 1.0, 0.02) == DAY0 + 12 * H  # exactly 2%
    assert hard_crossing(ts, np.ones(8), 1.0, 0.02) is None
    assert first_alert(ts, np.array(["none", "watch"] * 4)) is None


def test_early_warning_sign() -> None:
    assert early_warning_hours(DAY0 + 30 * H, DAY0 + 36 * H) == 6.0
    assert early_warning_hours(DAY0 + 40 * H, DAY0 + 36 * H) == -4.0  # late
    assert early_warning_hours(None, DAY0) is None
    assert early_warning_hours(DAY0, None) is None


def test_calm_days_exclude_soft_and_hard_days() -> None:
    ts, values, actions = series()
    # day 1: max 0.001 -> calm, 1 alert; day 2: crosses hard; day 3: 0.004 < 0.005 -> calm, no alert
    assert calm_day_alerts(ts, values, actions, 1.0, 0.005, 0.02) == {
        "calm_days": 2, "alerts_on_calm_days": 1, "alerts_per_calm_day": 0.5}
    # a tighter soft threshold: day 3 (0.4% off) is no longer calm
    assert calm_day_alerts(ts, values, actions, 1.0, 0.003, 0.02)["calm_days"] == 1
    none = calm_day_alerts(ts[2:6], values[2:6], actions[2:6], 1.0, 0.005, 0.02)
    assert none == {"calm_days": 0, "alerts_on_calm_days": 0, "alerts_per_calm_day": None}


def test_stream_report() -> None:
    ts, values, actions = series()
    r = stream_report(ts, values, actions, 1.0, 0.005, 0.02)
    assert r["first_alert"] == "2023-03-08T00:00:00Z" and r["first_hard_crossing"] == "2023-03-09T12:00:00Z"
    assert r["early_warning_h"] == 36.0 and r["max_abs_deviation"] == 0.04
    assert r["actions"] == {"alert": 2, "critical": 1, "none": 3, "watch": 2}


def test_rule_thresholds() -> None:
    rules = [SimpleNamespace(condition="abs_deviation >= 0.02", hard=True),
             SimpleNamespace(condition="abs_deviation >= 0.005", hard=False),
             SimpleNamespace(condition="abs(rate_of_change) >= 0.01", hard=False),
             SimpleNamespace(condition="watchlisted and abs_deviation >= 0.003", hard=False)]
    assert rule_thresholds(rules) == (0.005, 0.02)
    with pytest.raises(SystemExit):
        rule_thresholds(rules[1:])


def test_time_split_orders_by_id() -> None:
    df = pd.DataFrame({"ID": [5, 1, 4, 2, 3, 9, 7, 8, 6, 10], "x": range(10)})
    train, holdout = time_split(df)
    assert list(train["ID"]) == [1, 2, 3, 4, 5, 6, 7, 8] and list(holdout["ID"]) == [9, 10]
    train, holdout = time_split(df.drop(columns=["ID"]))
    assert list(holdout["x"]) == [8, 9]  # no ID: file order
