"""Quality of the peg and credit profiles: early warning on March 2023, and credit AUC against a plain XGBoost.

    python -m bench.quality [--out var/bench/quality] [--skip-peg] [--skip-credit]

Prints one JSON line with two objects.

`peg`: every bundled March 2023 hourly series (`data/stablecoin/kraken_usdcusd_hourly_2023-03-08_17.csv`,
close, stream `USDC.kraken`; and `coingecko_via_defillama_dai_usdc_usdt_hourly_2023-03-08_17.csv`, split by
`symbol` into `DAI`, `USDC`, `USDT`) is replayed through `studio replay --profile peg` (a subprocess, the
service's active peg models, a fresh in-memory stream; nothing persisted). The thresholds come from the
profile's rule pack (`policies/rules/peg.yaml`), never from the replay output: `hard` is the hard rule's
`abs_deviation >= X` (0.02), `soft` the smallest non-hard `abs_deviation >= X` (0.005), around the profile's
`features.peg` (1.0). Per stream (`peg.streams[NAME]`):

- `rows`, `probation`: rows replayed; rows of the replay's warm-up (15%, at most 750; they are still decided);
- `first_alert`: UTC time of the first decision whose action is `alert` or `critical` (null if none);
- `first_hard_crossing`: UTC time of the first raw value with |value - peg| >= hard (null if none);
- `early_warning_h`: (first_hard_crossing - first_alert) in hours; positive = warned that many hours before,
  negative = the first alert came late, null when either time is null;
- `max_abs_deviation`: the largest |value - peg| of the series;
- `calm_days`: UTC calendar days on which no raw value crossed hard and max |value - peg| < soft;
- `alerts_on_calm_days`: alert-or-critical decisions (rows) on those days;
- `alerts_per_calm_day`: alerts_on_calm_days / calm_days (null if there is no calm day);
- `actions`: count of each action over the whole replay.

`peg.all_streams`: `min_early_warning_h` (the worst stream's early warning), `calm_days` (summed over the
streams) and `alerts_per_calm_day` (all streams' calm-day alerts / those calm days).

`credit`: the profile's own time order (rows sorted by `ID`, the order models/datasets.py gives tabular rows,
and with no `validation_from` the product's own split: the last 20% by that order) is the holdout. The
product is trained on the first 80% only, through `models.training.train_profile(input_csv=...)` into a
temporary var dir (its own SQLite and model registry, so the service's models are untouched), then the
holdout rows are decided in-process through `studio.csv_replay.replay` (the decision graph, the same path as
`studio replay --profile credit`). Reported (`credit`):

- `train_rows`, `holdout_rows`, `holdout_positive_rate`, `train_seconds`, `score_seconds`;
- `product.decision`: AUC and PR-AUC (sklearn `roc_auc_score`, `average_precision_score`) of the decision's
  `score` (what a credit decision document calls its score, the probability the actions read): the
  stacking meta-classifier's probability on rows the router sent to the `meta` arm, the trusted models'
  mean on the others (`product.arms` counts the router's arms over the holdout);
- `product.meta_arm_rows`: the same two figures on the rows decided by the meta arm only (a subset: the
  replay output carries no meta probability for the other rows);
- `xgboost`: a plain `xgboost.XGBClassifier(n_estimators=300)` (other parameters default, seed 0) trained in
  this bench on the same training rows and the profile's same fields (missing values left to XGBoost);
- `delta_auc`, `delta_pr_auc`: product.decision minus xgboost (the product's may not be lower).

Replay outputs go to --out (peg_*.csv, credit_holdout.csv). About a minute here on two cores.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.datasets import read_timestamps
from studio import PROJECT_ROOT

ALARMS = ("alert", "critical")
STABLE = PROJECT_ROOT / "data" / "stablecoin"
KRAKEN = "kraken_usdcusd_hourly_2023-03-08_17.csv"
COINGECKO = "coingecko_via_defillama_dai_usdc_usdt_hourly_2023-03-08_17.csv"
THRESHOLD = re.compile(r"^\s*abs_deviation\s*>=\s*([0-9.eE+-]+)\s*$")


# ---- pure helpers (tested in tests/bench/test_quality.py) ----

def first_time(ts: np.ndarray, mask: np.ndarray) -> float | None:
    """The first timestamp where mask holds (epoch seconds), or None."""
    hits = np.flatnonzero(np.asarray(mask, dtype=bool))
    return float(ts[hits[0]]) if hits.size else None


def first_alert(ts: np.ndarray, actions: np.ndarray) -> float | None:
    return first_time(ts, np.isin(np.asarray(actions, dtype=str), ALARMS))


def hard_crossing(ts: np.ndarray, values: np.ndarray, peg: float, hard: float) -> float | None:
    """First raw value with |value - peg| >= hard (a tiny tolerance so 0.98 counts as 2% off)."""
    return first_time(ts, np.abs(np.asarray(values, dtype=float) - peg) >= hard - 1e-12)


def early_warning_hours(alert_ts: float | None, cross_ts: float | None) -> float | None:
    """Hours from the first alert to the first hard crossing; negative = late; None if either is missing."""
    if alert_ts is None or cross_ts is None:
        return None
    return round((cross_ts - alert_ts) / 3600.0, 2)


def calm_day_alerts(ts: np.ndarray, values: np.ndarray, actions: np.ndarray, peg: float, soft: float,
                    hard: float) -> dict[str, Any]:
    """Alert-or-critical rows on calm UTC days (no hard crossing, max |value - peg| < soft), per calm day."""
    dev = np.abs(np.asarray(values, dtype=float) - peg)
    df = pd.DataFrame({"day": pd.to_datetime(np.asarray(ts, dtype=float), unit="s", utc=True).date, "dev": dev,
                       "alarm": np.isin(np.asarray(actions, dtype=str), ALARMS)})
    per = df.groupby("day").agg(max_dev=("dev", "max"), alarms=("alarm", "sum"))
    calm = per[(per.max_dev < soft) & (per.max_dev < hard - 1e-12)]
    n, alarms = int(len(calm)), int(calm.alarms.sum())
    return {"calm_days": n, "alerts_on_calm_days": alarms,
            "alerts_per_calm_day": round(alarms / n, 3) if n else None}


def rule_thresholds(rules: list[Any]) -> tuple[float, float]:
    """(soft, hard) from a peg rule pack: the hard rule's `abs_deviation >= X`, the smallest non-hard one."""
    hard: list[float] = []
    soft: list[float] = []
    for r in rules:
        m = THRESHOLD.match(r.condition)
        if m:
            (hard if r.hard else soft).append(float(m.group(1)))
    if not hard or not soft:
        raise SystemExit("the peg rule pack has no plain `abs_deviation >= X` hard and soft rules")
    return min(soft), min(hard)


def iso(t: float | None) -> str | None:
    return None if t is None else pd.Timestamp(t, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def stream_report(ts: np.ndarray, values: np.ndarray, actions: np.ndarray, peg: float, soft: float,
                  hard: float) -> dict[str, Any]:
    alert, cross = first_alert(ts, actions), hard_crossing(ts, values, peg, hard)
    kinds, counts = np.unique(np.asarray(actions, dtype=str), return_counts=True)
    return {"rows": int(len(ts)), "first_alert": iso(alert), "first_hard_crossing": iso(cross),
            "early_warning_h": early_warning_hours(alert, cross),
            "max_abs_deviation": round(float(np.max(np.abs(values - peg))), 5),
            **calm_day_alerts(ts, values, actions, peg, soft, hard),
            "actions": {str(k): int(c) for k, c in zip(kinds, counts, strict=True)}}


# ---- peg ----

def peg_inputs(work: Path) -> list[tuple[str, Path, str, str]]:
    """(stream, csv, value column, timestamp column) of every bundled March 2023 hourly series."""
    out = [("USDC.kraken", STABLE / KRAKEN, "close", "hour_utc")]
    cg = pd.read_csv(STABLE / COINGECKO)
    for sym, part in cg.groupby("symbol", sort=True):
        path = work / f"coingecko_{sym}.csv"
        part.sort_values("timestamp")[["timestamp", "price"]].to_csv(path, index=False)
        out.append((str(sym), path, "price", "timestamp"))
    return out


def run_peg(out: Path) -> dict[str, Any]:
    from core.profiles import load_profiles
    from policies.rules import load_rule_pack
    from studio.csv_replay import probation_rows

    prof = load_profiles(PROJECT_ROOT / "profiles")["peg"]
    assert prof.features is not None
    peg = float(prof.features.peg)
    soft, hard = rule_thresholds(load_rule_pack(PROJECT_ROOT / "policies" / "rules", prof.rules).rules)
    streams: dict[str, Any] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, vcol, tcol in peg_inputs(Path(tmp)):
            dst = out / f"peg_{name}.csv"
            subprocess.run([sys.executable, "-m", "studio.cli", "replay", "--profile", "peg", "--input", str(path),
                            "--value-column", vcol, "--timestamp-column", tcol, "--stream", name,
                            "--output", str(dst), "--quiet"], check=True, cwd=PROJECT_ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            src = pd.read_csv(path)  # times and values from the input itself, not from the product's output
            unit = "s" if pd.api.types.is_numeric_dtype(src[tcol]) else "iso"
            ts, values = read_timestamps(src[tcol], unit), src[vcol].astype(float).to_numpy()
            actions = pd.read_csv(dst)["action"].astype(str).to_numpy()
            if len(actions) != len(values):
                raise SystemExit(f"{dst}: {len(actions)} decisions for {len(values)} rows")
            streams[name] = {**stream_report(ts, values, actions, peg, soft, hard),
                             "probation": probation_rows(len(values)), "source": path.name if path.parent == STABLE
                             else f"{COINGECKO} [symbol={name}]"}
    warn = [s["early_warning_h"] for s in streams.values() if s["early_warning_h"] is not None]
    calm = sum(s["calm_days"] for s in streams.values())
    total = {"min_early_warning_h": min(warn) if warn else None, "calm_days": calm,
             "alerts_per_calm_day": round(sum(s["alerts_on_calm_days"] for s in streams.values()) / calm, 3)
             if calm else None}
    return {"peg": peg, "soft": soft, "hard": hard, "all_streams": total,
            "replay_seconds": round(time.perf_counter() - start, 1), "streams": streams}


# ---- credit ----

def time_split(df: pd.DataFrame, fraction: float = 0.8) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tabular profiles' order (`ID` when present, else file order), first `fraction` / the rest."""
    ordered = df.sort_values("ID", kind="stable") if "ID" in df.columns else df
    cut = int(len(ordered) * fraction)
    return ordered.iloc[:cut], ordered.iloc[cut:]


def auc_pair(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {"auc": round(float(roc_auc_score(y, p)), 4), "pr_auc": round(float(average_precision_score(y, p)), 4)}


def plain_xgboost(train: pd.DataFrame, holdout: pd.DataFrame, features: list[str], label: str) -> np.ndarray:
    from xgboost import XGBClassifier

    X = train[features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    clf = XGBClassifier(n_estimators=300, random_state=0, n_jobs=2, eval_metric="logloss")
    clf.fit(X, train[label].astype(int).to_numpy())
    return clf.predict_proba(holdout[features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float))[:, 1]


def run_credit(out: Path) -> dict[str, Any]:
    from core.settings import Settings
    from models.training import train_profile
    from studio.bootstrap import open_base
    from studio.csv_replay import replay

    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp)
        settings = Settings(var_dir=var, models_dir=var / "models", database_url=f"sqlite:///{var / 'studio.db'}",
                            data_dir=PROJECT_ROOT / "data", profiles_dir=PROJECT_ROOT / "profiles",
                            rules_dir=PROJECT_ROOT / "policies" / "rules")
        studio = open_base(settings)
        prof = studio.profiles["credit"]
        assert prof.label.column is not None and len(prof.training) == 1
        label = prof.label.column
        train, holdout = time_split(pd.read_csv(settings.data_dir / prof.training[0].path))
        train_csv, hold_csv = var / "credit_train.csv", var / "credit_holdout.csv"
        train.to_csv(train_csv, index=False)
        holdout.drop(columns=[label]).to_csv(hold_csv, index=False)
        t0 = time.perf_counter()
        train_profile(prof, studio.packs["credit"], data_dir=settings.data_dir, registry=studio.registry,
                      input_csv=train_csv, progress=False, actor="bench")
        t1 = time.perf_counter()
        dst = out / "credit_holdout.csv"
        replay(studio, prof, hold_csv, dst, progress=False)
        t2 = time.perf_counter()
        studio.engine.dispose()
    scored = pd.read_csv(dst)
    y = holdout[label].astype(int).to_numpy()
    if list(scored["id"]) != list(holdout["ID"]):
        raise SystemExit(f"{dst}: decisions are not in the holdout's order")
    features = [f.name for f in prof.fields]
    xgb = auc_pair(y, plain_xgboost(train, holdout, features, label))
    decision = auc_pair(y, scored["score"].to_numpy(dtype=float))
    arms = scored["arm"].astype(str).value_counts()
    product: dict[str, Any] = {"decision": decision, "arms": {str(k): int(v) for k, v in arms.items()}}
    on_meta = (scored["arm"].astype(str) == "meta").to_numpy()
    if on_meta.any() and len(np.unique(y[on_meta])) == 2:
        product["meta_arm_rows"] = auc_pair(y[on_meta], scored["score"].to_numpy(dtype=float)[on_meta])
    return {"order": "ID" if "ID" in holdout.columns else "file", "train_rows": int(len(train)),
            "holdout_rows": int(len(holdout)), "holdout_positive_rate": round(float(y.mean()), 4),
            "train_seconds": round(t1 - t0, 1), "score_seconds": round(t2 - t1, 1), "product": product,
            "xgboost": xgb, "delta_auc": round(decision["auc"] - xgb["auc"], 4),
            "delta_pr_auc": round(decision["pr_auc"] - xgb["pr_auc"], 4)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--out", default=str(PROJECT_ROOT / "var" / "bench" / "quality"))
    p.add_argument("--skip-peg", action="store_true")
    p.add_argument("--skip-credit", action="store_true")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result: dict[str, Any] = {}
    if not args.skip_peg:
        result["peg"] = run_peg(out)
    if not args.skip_credit:
        result["credit"] = run_credit(out)
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
