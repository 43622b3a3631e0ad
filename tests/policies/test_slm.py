"""The three SLMs: math quantities and limits, SQL watch-lists (expiry, profile scope) and baselines, policy
rules with the values that fired them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ValidationFailed
from core.events import check_physical_limits
from core.profiles import load_profiles
from policies.rules import load_rule_pack
from policies.slm.math import (
    check_probability,
    math_signals,
    stream_math,
    tabular_math,
)
from policies.slm.policy import evaluate_rules
from store import watchlists
from store.baselines import upsert
from store.engine import init_db, make_engine, write_tx
from store.lookups import Lookups
from studio import PROJECT_ROOT

PROFILES = load_profiles(PROJECT_ROOT / "profiles")
RULES = PROJECT_ROOT / "policies" / "rules"


def test_math_peg_deviation_rate_of_change_and_baseline_zscore() -> None:
    pack = load_rule_pack(RULES, "peg")
    q = stream_math(PROFILES["peg"], pack, np.array([0.97, 1.0]), np.array([1.0, 1.0]), [(1.0, 0.002), None],
                    np.array([1.0, 1.0]), np.array([0.0, 0.01]), np.array([True, True]))
    assert q[0]["deviation"] == pytest.approx(-0.03) and q[0]["abs_deviation"] == pytest.approx(0.03)
    assert q[0]["rate_of_change"] == pytest.approx(-0.03)
    assert q[0]["zscore"] == pytest.approx(-15.0)  # against the stored baseline
    assert q[1]["zscore"] == pytest.approx(0.0)  # against the recent window
    fired = {s["name"]: s for s in math_signals(pack, q[0])}
    assert fired["abs_deviation"]["fired"] and fired["abs_deviation"]["limit"] == 0.005
    assert fired["rate_of_change"]["fired"] and fired["zscore"]["fired"]


def test_math_physical_limits_reject() -> None:
    with pytest.raises(ValidationFailed) as err:
        check_physical_limits(PROFILES["peg"], [-0.1], [{}])
    assert err.value.details[0]["loc"] == "events[0].value"
    with pytest.raises(ValidationFailed):
        check_physical_limits(PROFILES["credit"], [None], [{"PAY_0": 12.0}])
    assert check_probability("m", np.array([0.2, 1.3])) is not None
    assert check_probability("m", np.array([0.2, np.nan])) is not None
    assert check_probability("m", np.array([0.0, 1.0])) is None
    assert check_probability("m", np.array([])) is None
    for bad in (np.inf, -np.inf, -1e-12, 1.0 + 1e-12):  # each reported with the offending value
        assert check_probability("m", np.array([0.5, bad, 0.1])) == f"m: output {bad!r} outside [0, 1]"
    assert check_probability("m", np.array([np.nan, 0.5])) == "m: output nan outside [0, 1]"


def test_tabular_derived_quantities() -> None:
    pack = load_rule_pack(RULES, "credit")
    [q] = tabular_math(pack, [{"BILL_AMT1": 30000.0, "LIMIT_BAL": 20000.0, "PAY_AMT1": 0.0, "PAY_0": 3, "PAY_2": 1,
                               "PAY_3": 0, "PAY_4": 0, "PAY_5": 0, "PAY_6": 0}])
    assert q["utilization"] == pytest.approx(1.5) and q["months_late_max"] == 3


def test_policy_rules_report_the_values_that_fired_them() -> None:
    pack = load_rule_pack(RULES, "peg")
    fired, errors = evaluate_rules(pack, {"abs_deviation": 0.021, "rate_of_change": -0.002, "watchlisted": False})
    ids = {r["rule"]: r for r in fired}
    assert set(ids) == {"peg.hard_depeg", "peg.soft_depeg"} and not errors
    assert ids["peg.hard_depeg"]["hard"] and ids["peg.hard_depeg"]["values"] == {"abs_deviation": 0.021}
    fired, _ = evaluate_rules(pack, {"abs_deviation": 0.004, "rate_of_change": 0.0, "watchlisted": True})
    assert [r["rule"] for r in fired] == ["peg.watchlisted_off_peg"]


def test_sql_watchlists_and_baselines(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    init_db(eng)
    look = Lookups(eng, ttl_s=60)
    watchlists.add(eng, kind="token", value="USDC", reason="issuer exposure", profile=None, expires_at=None,
                   actor="t")
    watchlists.add(eng, kind="token", value="DAI", reason="old", profile=None, expires_at="2000-01-01T00:00:00.000000Z",
                   actor="t")
    watchlists.add(eng, kind="host", value="db-1", reason="ops only", profile="ops", expires_at=None, actor="t")
    look.invalidate()
    assert [h["value"] for h in look.watchlist_hits("peg", [("token", "USDC"), ("token", "DAI")])] == ["USDC"]
    assert look.watchlist_hits("peg", [("host", "db-1")]) == []
    assert look.watchlist_hits("ops", [("host", "db-1")])[0]["reason"] == "ops only"
    with write_tx(eng) as conn:
        upsert(conn, [{"profile": "peg", "stream": "USDC", "mean": 1.0001, "std": 0.0004, "n": 30, "window_days": 30.0,
                       "computed_at": "x", "source": "training"}])
    look.invalidate()
    assert look.baseline("peg", "USDC") == (1.0001, 0.0004) and look.baseline("peg", "USDT") is None
