"""Forecast the M4 hourly series through the product's forecast path and score them as M4 does.

    python -m bench.forecasts [--data ../shared/data/m4] [--profile ops] [--horizon 48] [--workers 2]
                              [--limit N] [--plot V1] [--out var/bench/forecasts]

Each series' training part is sent as a history to the same forecasting service that `POST /v1/forecasts`
and `studio forecast` use (hourly timestamps from a fixed start: M4 publishes no dates), `horizon` steps are
forecast and compared with the series' test part. Prints one JSON line: for the ensemble and each member the
mean MASE (m = 24, scaled by the in-sample seasonal-naive error, as M4 defines it) and sMAPE, each MASE as a
ratio to the seasonal-naive forecast's on the same series, the coverage of the 80% and 95% intervals, and the
wall time. Uses the models in the configured var dir (trains them first when there are none).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from studio import PROJECT_ROOT

SEASON = 24  # M4's seasonal period for hourly data
START = 1_483_315_200.0  # 2017-01-02T00:00:00Z, a Monday: M4 gives no dates, the models only see spacing
_WORKER: dict[str, Any] = {}


def load_m4(path: Path) -> dict[str, np.ndarray]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    return {r[0]: np.array([float(v) for v in r[1:] if v != ""]) for r in rows}


def seasonal_naive(y: np.ndarray, horizon: int, m: int = SEASON) -> np.ndarray:
    return np.array([y[-m + (i % m)] for i in range(horizon)])


def mase(actual: np.ndarray, predicted: np.ndarray, insample: np.ndarray, m: int = SEASON) -> float:
    scale = float(np.mean(np.abs(insample[m:] - insample[:-m])))
    return float(np.mean(np.abs(actual - predicted)) / max(scale, 1e-12))


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    denom = np.abs(actual) + np.abs(predicted)
    return float(np.mean(np.where(denom > 0, 200.0 * np.abs(actual - predicted) / np.where(denom > 0, denom, 1), 0)))


def _init(profile_name: str) -> None:
    from threadpoolctl import threadpool_limits

    from core.settings import get_settings
    from models.bundle import load_bundle
    from models.forecasting import ForecastService
    from studio.bootstrap import open_base

    threadpool_limits(1)
    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    studio = open_base(get_settings())
    profile = studio.profiles[profile_name]
    _WORKER.update(profile=profile, bundle=load_bundle(profile, studio.registry), service=ForecastService())


def _one(item: tuple[str, np.ndarray, np.ndarray, int]) -> dict[str, Any]:
    name, train, test, horizon = item
    ts = START + 3600.0 * np.arange(train.size)
    start = time.perf_counter()
    out = _WORKER["service"].from_history(_WORKER["profile"], _WORKER["bundle"], ts, train, horizon)
    seconds = time.perf_counter() - start
    test = test[:horizon]
    rows: dict[str, dict[str, float]] = {}
    for model, f in [*out["models"].items(), ("ensemble", out["ensemble"])]:
        mean = np.asarray(f["mean"], dtype=float)
        rows[model] = {
            "mase": mase(test, mean, train), "smape": smape(test, mean),
            "cover_80": float(np.mean((test >= f["lower_80"]) & (test <= f["upper_80"]))),
            "cover_95": float(np.mean((test >= f["lower_95"]) & (test <= f["upper_95"]))),
        }
    sn = seasonal_naive(train, horizon)
    rows["seasonal_naive_m24"] = {"mase": mase(test, sn, train), "smape": smape(test, sn)}
    return {"series": name, "rows": rows, "seconds": seconds, "weights": out["ensemble"].get("weights", {}),
            "forecast": out["ensemble"], "periods": out.get("periods")}


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    names = sorted({m for r in results for m in r["rows"]})
    sn_by_series = {r["series"]: r["rows"]["seasonal_naive_m24"]["mase"] for r in results}
    out: dict[str, Any] = {}
    for m in names:
        got = [r for r in results if m in r["rows"]]
        entry: dict[str, Any] = {"series": len(got)}
        for k in ("mase", "smape", "cover_80", "cover_95"):
            vals = [r["rows"][m][k] for r in got if k in r["rows"][m]]
            if vals:
                entry[k] = round(float(np.mean(vals)), 4)
        sn = float(np.mean([sn_by_series[r["series"]] for r in got]))
        entry["mase_vs_seasonal_naive"] = round(entry["mase"] / sn, 4)
        out[m] = entry
    return out


def plot(result: dict[str, Any], train: np.ndarray, test: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = result["forecast"]
    h = len(f["mean"])
    tail = min(train.size, 24 * 14)
    x_hist = np.arange(train.size - tail, train.size)
    x_fut = np.arange(train.size, train.size + h)
    fig, ax = plt.subplots(figsize=(11, 4))
    ax.plot(x_hist, train[-tail:], color="0.3", lw=1, label="history (last 14 days)")
    ax.plot(x_fut, test[:h], color="black", lw=1.4, label="test (actual)")
    ax.fill_between(x_fut, f["lower_95"], f["upper_95"], color="tab:blue", alpha=0.15, label="95% interval")
    ax.fill_between(x_fut, f["lower_80"], f["upper_80"], color="tab:blue", alpha=0.3, label="80% interval")
    ax.plot(x_fut, f["mean"], color="tab:blue", lw=1.6, label="ensemble forecast")
    ax.plot(x_fut, seasonal_naive(train, h), color="tab:orange", lw=1, ls="--", label="seasonal naive (m=24)")
    r = result["rows"]
    ax.set_title(f"M4 {result['series']}: ensemble MASE {r['ensemble']['mase']:.3f}, "
                 f"seasonal naive {r['seasonal_naive_m24']['mase']:.3f}; weights "
                 + ", ".join(f"{k} {v:.2f}" for k, v in sorted(result["weights"].items(), key=lambda kv: -kv[1])))
    ax.set_xlabel("hour")
    ax.legend(loc="upper left", fontsize=8, ncol=3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(PROJECT_ROOT.parent / "shared" / "data" / "m4"))
    p.add_argument("--profile", default="ops")
    p.add_argument("--horizon", type=int, default=48)
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--limit", type=int, default=0, help="only the first N series")
    p.add_argument("--plot", default="", help="write a PNG of this series (e.g. V1) under --out")
    p.add_argument("--out", default=str(PROJECT_ROOT / "var" / "bench" / "forecasts"))
    args = p.parse_args()
    data = Path(args.data)
    train, test = load_m4(data / "Hourly-train.csv"), load_m4(data / "Hourly-test.csv")
    names = sorted(train, key=lambda k: int(k[1:]) if k[1:].isdigit() else k)
    if args.limit:
        names = names[: args.limit]
    _ensure_trained()
    items = [(n, train[n], test[n], args.horizon) for n in names]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(args.workers, 1), initializer=_init, initargs=(args.profile,)) as pool:
        results = list(pool.map(_one, items))
    wall = time.perf_counter() - start
    summary = summarize(results)
    report = {
        "series": len(results), "horizon": args.horizon, "profile": args.profile, "workers": args.workers,
        "wall_seconds": round(wall, 1),
        "seconds_per_series_p50": round(float(np.median([r["seconds"] for r in results])), 3),
        "ensemble": summary.pop("ensemble"), "seasonal_naive_m24": summary.pop("seasonal_naive_m24"),
        "members": summary,
        "mean_weights": _mean_weights(results),
    }
    if args.plot:
        hit = [r for r in results if r["series"] == args.plot]
        if hit:
            png = Path(args.out) / f"{args.plot}.png"
            plot(hit[0], train[args.plot], test[args.plot], png)
            report["plot"] = str(png)
    print(json.dumps(report))


def _mean_weights(results: list[dict[str, Any]]) -> dict[str, float]:
    names = sorted({k for r in results for k in r["weights"]})
    return {k: round(float(np.mean([r["weights"].get(k, 0.0) for r in results])), 3) for k in names}


def _ensure_trained() -> None:
    from core.settings import get_settings
    from studio.bootstrap import open_base, train_missing

    studio = open_base(get_settings())
    train_missing(studio, progress=True)
    studio.engine.dispose()


if __name__ == "__main__":
    main()
