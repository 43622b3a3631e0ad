"""`studio replay`: one output row per input row, causal (a prefix replays to the same scores), tabular too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from studio import PROJECT_ROOT


def _studio(settings, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "STUDIO_VAR_DIR": str(settings.var_dir), "STUDIO_MODELS_DIR": str(settings.models_dir),
           "STUDIO_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "studio.cli", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_replay_nab_stream_is_causal(settings, shared_data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = shared_data / "nab" / "data" / "realKnownCause" / "ec2_request_latency_system_failure.csv"
    full = pd.read_csv(src)
    prefix_csv = tmp_path / "prefix.csv"
    full.head(2400).to_csv(prefix_csv, index=False)
    out_full, out_prefix = tmp_path / "full.csv", tmp_path / "prefix-out.csv"
    r = _studio(settings, "replay", "--profile", "ops", "--input", str(src), "--output", str(out_full),
                "--stream", "ec2", "--quiet")
    assert r.returncode == 0, r.stderr
    a = pd.read_csv(out_full)
    assert len(a) == len(full)
    assert {"timestamp", "value", "anomaly_score", "severity", "action"} <= set(a.columns)
    assert a["anomaly_score"].between(0, 1).all() and a["severity"].between(0, 10).all()
    r = _studio(settings, "replay", "--profile", "ops", "--input", str(prefix_csv), "--output", str(out_prefix),
                "--stream", "ec2", "--quiet")
    assert r.returncode == 0, r.stderr
    b = pd.read_csv(out_prefix)
    probation = min(int(0.15 * 2400), 750)
    # Rows before the prefix's warm-up ends see exactly the same data in both runs.
    pd.testing.assert_series_equal(a["anomaly_score"].head(probation), b["anomaly_score"].head(probation))


def test_replay_is_causal_within_a_fixed_probation(settings, shared_data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Appending future rows never changes past scores: replay N rows, then N + 500 with the same probation."""
    src = shared_data / "stablecoin" / "kraken_usdcusd_hourly_2023-03-08_17.csv"
    df = pd.read_csv(src)
    # 240 rows: probation 36 either way for 240 and 240 (same file) - compare with a copy whose tail is altered.
    altered = df.copy()
    altered.loc[200:, "close"] = 0.5  # the future changes violently
    a_csv, b_csv = tmp_path / "a.csv", tmp_path / "b.csv"
    df.to_csv(a_csv, index=False)
    altered.to_csv(b_csv, index=False)
    outs = []
    for name, path in (("a", a_csv), ("b", b_csv)):
        out = tmp_path / f"{name}-out.csv"
        r = _studio(settings, "replay", "--profile", "peg", "--input", str(path), "--output", str(out),
                    "--value-column", "close", "--timestamp-column", "hour_utc", "--stream", "USDC", "--quiet")
        assert r.returncode == 0, r.stderr
        outs.append(pd.read_csv(out))
    a, b = outs
    assert len(a) == len(df) == len(b)
    pd.testing.assert_frame_equal(a.head(200), b.head(200))
    assert not a.iloc[200:].equals(b.iloc[200:])
    depeg = a[a["timestamp"] == "2023-03-11T07:00:00Z"].iloc[0]
    assert depeg["action"] == "critical" and depeg["severity"] >= 9
    assert "peg.hard_depeg" in depeg["rules"]


def test_replay_tabular_credit(settings, shared_data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "credit.csv"
    pd.read_csv(shared_data / "credit" / "uci_credit_default.csv").tail(300).to_csv(src, index=False)
    out = tmp_path / "credit-out.csv"
    r = _studio(settings, "replay", "--profile", "credit", "--input", str(src), "--output", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    res = pd.read_csv(out)
    assert len(res) == 300 and {"id", "score", "severity", "action"} <= set(res.columns)
    truth = pd.read_csv(src)["default.payment.next.month"].to_numpy()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(truth, res["score"]) > 0.65  # held-out rows (not in the vendored sample's training)


def test_replay_reports_bad_input(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text("time,v\n1,2\n")
    r = _studio(settings, "replay", "--profile", "ops", "--input", str(bad), "--output", str(tmp_path / "o.csv"))
    assert r.returncode == 2 and "lacks columns" in r.stderr
