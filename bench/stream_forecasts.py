"""One-step forecast accuracy of the stream path's forecasters on the NAB streams (labels are not read).

    python -m bench.stream_forecasts [--data ../shared/data/nab/data] [--profile ops]

Each stream is fitted on the profile's warm-up (the first `warmup_points`, normalized by their mean and
standard deviation) exactly as a live stream is, with the season the warm-up shows, then walked point by point
over the rest. Prints one JSON line: per forecaster, the mean and median over streams of the one-step MASE
(mean absolute one-step error over the in-sample naive error of the scored part) and the wall time.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from core.profiles import load_profiles
from models.catalog import create
from models.datasets import fitted_normalization, read_timestamps
from models.forecasters.base import LocalForecaster
from models.seasonality import primary_season
from studio import PROJECT_ROOT


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(PROJECT_ROOT.parent / "shared" / "data" / "nab" / "data"))
    p.add_argument("--profile", default="ops")
    args = p.parse_args()
    profile = load_profiles(PROJECT_ROOT / "profiles")[args.profile]
    assert profile.features is not None
    warm = profile.features.warmup_points
    models = {n: create(n, profile.models.params.get(n)) for n in profile.models.forecasters}
    models = {n: m for n, m in models.items() if isinstance(m, LocalForecaster)}
    errors: dict[str, list[float]] = {n: [] for n in models}
    start = time.perf_counter()
    files = sorted(Path(args.data).rglob("*.csv"))
    for f in files:
        df = pd.read_csv(f)
        y, ts = df["value"].to_numpy(float), read_timestamps(df["timestamp"], "iso")
        mu, sd = fitted_normalization(profile, y[:warm])
        u = (y - mu) / sd
        scale = float(np.mean(np.abs(np.diff(u[warm:])))) or 1e-9
        season = primary_season(u[:warm], ts[:warm])
        for name, model in models.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                local = model.fit_local(u[:warm], ts[:warm], season)
            if local is None:
                continue
            _, _, state = model.run(local, model.initial_state(local), u[:warm], ts[:warm])
            _, extras, _ = model.run(local, state, u[warm:], ts[warm:])
            assert extras is not None
            errors[name].append(float(np.mean(np.abs(u[warm:] - extras["forecast_u"]))) / scale)
    print(json.dumps({
        "streams": len(files), "warmup_points": warm, "seconds": round(time.perf_counter() - start, 1),
        "one_step_mase": {n: {"streams": len(v), "mean": round(float(np.mean(v)), 4),
                              "median": round(float(np.median(v)), 4)} for n, v in errors.items() if v},
    }))


if __name__ == "__main__":
    main()
