"""Replay every NAB stream through `studio replay --profile ops` (timed) and score the ensemble with NAB.

    python -m bench.nab [--data ../shared/data/nab] [--out var/bench/nab]

Prints one JSON line: replay wall time, rows, and the normalized NAB score (standard, reward-low-FP,
reward-low-FN) of the ensemble's anomaly score over all streams and over the streams not bundled in data/.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.nab_score import COSTS, NabFile, corpus_score, window_rows
from models.datasets import read_timestamps
from studio import PROJECT_ROOT


def load_files(data: Path, out: Path) -> list[NabFile]:
    labels = json.loads((data / "labels" / "combined_windows.json").read_text())
    files = []
    for rel, windows in sorted(labels.items()):
        result = out / rel
        if not result.is_file():
            raise SystemExit(f"missing replay output {result}")
        df = pd.read_csv(result)
        ts = read_timestamps(df["timestamp"], "iso")
        bounds = [(pd.Timestamp(a, tz="UTC").timestamp(), pd.Timestamp(b, tz="UTC").timestamp()) for a, b in windows]
        files.append(NabFile(rel, df["anomaly_score"].to_numpy(dtype=float), window_rows(ts, bounds)))
    return files


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(PROJECT_ROOT.parent / "shared" / "data" / "nab"))
    p.add_argument("--out", default=str(PROJECT_ROOT / "var" / "bench" / "nab"))
    p.add_argument("--skip-replay", action="store_true", help="score existing outputs only")
    args = p.parse_args()
    data, out = Path(args.data), Path(args.out)
    seconds = None
    if not args.skip_replay:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "studio.cli", "replay", "--profile", "ops", "--input", str(data / "data"),
                        "--output", str(out), "--quiet"], check=True, cwd=PROJECT_ROOT)
        seconds = round(time.perf_counter() - start, 1)
    files = load_files(data, out)
    bundled = {src.split("nab/data/", 1)[1] for src in _bundled()}
    holdout = [f for f in files if f.name not in bundled]
    result = {
        "replay_seconds": seconds, "files": len(files), "rows": int(sum(f.scores.size for f in files)),
        "nab_all": {name: corpus_score(files, name) for name in COSTS},
        "nab_holdout": {name: corpus_score(holdout, name) for name in COSTS},
        "holdout_files": len(holdout),
        "score_p99": round(float(np.quantile(np.concatenate([f.scores for f in files]), 0.99)), 4),
    }
    print(json.dumps(result))


def _bundled() -> list[str]:
    from studio.profiles import load_profiles

    return [s.path for s in load_profiles(PROJECT_ROOT / "profiles")["ops"].training]


if __name__ == "__main__":
    main()
