"""Replay every NAB stream through `studio replay --profile ops` (timed) and score it with NAB's exact scorer.

    python -m bench.nab [--data ../shared/data/nab] [--out var/bench/nab] [--skip-replay]
                        [--score-column anomaly_score] [--plot STREAM [--threshold T]]

Prints one JSON line. The labels are used only to score, never to choose something reported on the same
labels, except in the fields named `oracle_*` (the best single threshold on the scored streams, NAB's own
convention, an upper bound and labelled as such):

- `all_frozen`: all 31 streams at the profile's frozen threshold (`thresholds.alert` of profiles/ops.yaml);
- `loco`: leave-one-category-out: for each of the 5 NAB categories the threshold is the best one on the other
  four; the held-out raw scores are summed and normalized once with the corpus' null and perfect scores;
- `untrained_frozen`: the streams not in the ops profile's `training:` list, at the frozen threshold.

`--score-column` scores any column of the replay CSVs (e.g. `score_cusum`, one per model). `--plot STREAM`
writes STREAM.png (values, score, alarms at the frozen threshold or --threshold, labelled windows) into --out.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.nab_score import COSTS, NabFile, normalize, summarize, sweep, window_rows
from models.datasets import read_timestamps
from studio import PROJECT_ROOT

PROFILE = "ops"


def load_files(data: Path, out: Path, column: str = "anomaly_score",
               only: list[str] | None = None) -> tuple[list[NabFile], dict[str, np.ndarray]]:
    """Replay outputs joined with NAB's windows; also each file's timestamps (epoch seconds)."""
    labels = json.loads((data / "labels" / "combined_windows.json").read_text())
    files, stamps = [], {}
    for rel, windows in sorted(labels.items()):
        if only is not None and rel not in only:
            continue
        result = out / rel
        if not result.is_file():
            raise SystemExit(f"missing replay output {result} (run without --skip-replay)")
        df = pd.read_csv(result)
        if column not in df.columns:
            cols = [c for c in df.columns if c == "anomaly_score" or c.startswith("score_")]
            raise SystemExit(f"{result} has no column {column!r}; score columns: {', '.join(cols)}")
        ts = read_timestamps(df["timestamp"], "iso")
        bounds = [(pd.Timestamp(a, tz="UTC").timestamp(), pd.Timestamp(b, tz="UTC").timestamp()) for a, b in windows]
        scores = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
        files.append(NabFile(rel, scores, window_rows(ts, bounds), values=df["value"].to_numpy(dtype=float)))
        stamps[rel] = np.asarray(ts, dtype=float)
    return files, stamps


def _summary(files: list[NabFile], profile: str, threshold: float | None) -> dict[str, Any]:
    return summarize(sweep(files, profile), threshold)


def leave_one_category_out(files: list[NabFile], profile: str) -> dict[str, Any]:
    """Threshold chosen on four categories, scored on the fifth; held-out raw scores summed, normalized once."""
    cats = sorted({f.category for f in files})
    folds: dict[str, Any] = {}
    raw_total, null_total, perfect_total = 0.0, 0.0, 0.0
    for cat in cats:
        train = sweep([f for f in files if f.category != cat], profile)
        k = train.best_index()
        t = float(train.thresholds[k])
        held = sweep([f for f in files if f.category == cat], profile)
        raw, tp, fp = held.at(t)
        raw_total, null_total, perfect_total = raw_total + raw, null_total + held.null, perfect_total + held.perfect
        folds[cat] = {"threshold": None if math.isinf(t) else round(t, 6),
                      "train_score": round(train.normalize(float(train.raw[k])), 2), "raw": round(raw, 3),
                      "score": round(held.normalize(raw), 2) if held.windows else None,
                      "tp": tp, "fp": fp, "fn": held.scored_windows - tp, "windows": held.windows}
    return {"score": round(normalize(raw_total, null_total, perfect_total), 2), "raw": round(raw_total, 3),
            "folds": folds}


def evaluate(files: list[NabFile], threshold: float, untrained: set[str]) -> dict[str, Any]:
    held = [f for f in files if f.name in untrained]
    return {
        "all_frozen": {p: _summary(files, p, threshold) for p in COSTS},
        "loco": {p: leave_one_category_out(files, p) for p in COSTS},
        "untrained_frozen": {p: _summary(held, p, threshold) for p in COSTS},
        "oracle_all": {p: _summary(files, p, None) for p in COSTS},
        "oracle_untrained": {p: _summary(held, p, None) for p in COSTS},
        "untrained_files": len(held),
    }


def profile_settings() -> tuple[float, set[str]]:
    """The ops profile's frozen alert threshold and its training streams (paths relative to nab/data)."""
    from studio.profiles import load_profiles

    prof = load_profiles(PROJECT_ROOT / "profiles")[PROFILE]
    return float(prof.thresholds.alert), {s.path.split("nab/data/", 1)[-1] for s in prof.training}


def resolve_stream(data: Path, stream: str) -> str:
    labels = json.loads((data / "labels" / "combined_windows.json").read_text())
    key = stream.removesuffix(".csv")
    hits = [rel for rel in labels if rel.removesuffix(".csv") == key or Path(rel).stem == key]
    if len(hits) != 1:
        found = "ambiguous: " + ", ".join(hits) if hits else "not a NAB stream"
        raise SystemExit(f"--plot {stream}: {found} (e.g. realKnownCause/nyc_taxi or nyc_taxi)")
    return hits[0]


def replay(data: Path, out: Path, rel: str | None = None) -> float:
    src, dst = (data / "data", out) if rel is None else (data / "data" / rel, out / rel)
    cmd = [sys.executable, "-m", "studio.cli", "replay", "--profile", PROFILE, "--input", str(src),
           "--output", str(dst), "--quiet"]
    if rel is not None:  # the stream name replay_tree gives the file
        cmd += ["--stream", rel.removesuffix(".csv").replace("/", ".")]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - start, 1)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--data", default=str(PROJECT_ROOT.parent / "shared" / "data" / "nab"))
    p.add_argument("--out", default=str(PROJECT_ROOT / "var" / "bench" / "nab"))
    p.add_argument("--skip-replay", action="store_true", help="score existing outputs only")
    p.add_argument("--score-column", default="anomaly_score", help="replay CSV column to score (e.g. score_cusum)")
    p.add_argument("--plot", metavar="STREAM", help="write STREAM.png into --out instead of scoring the corpus")
    p.add_argument("--threshold", type=float, help="alarm threshold for --plot (default: the profile's alert)")
    args = p.parse_args(argv)
    data, out = Path(args.data), Path(args.out)
    frozen, training = profile_settings()
    if args.plot:
        from bench.nab_plot import plot_stream

        rel = resolve_stream(data, args.plot)
        if not args.skip_replay and not (out / rel).is_file():
            replay(data, out, rel)
        files, stamps = load_files(data, out, args.score_column, only=[rel])
        threshold = frozen if args.threshold is None else args.threshold
        print(json.dumps(plot_stream(files[0], stamps[rel], threshold, out, args.score_column)))
        return
    seconds = None if args.skip_replay else replay(data, out)
    files, _ = load_files(data, out, args.score_column)
    scores = np.concatenate([f.scores for f in files])
    result = {
        "replay_seconds": seconds, "files": len(files), "rows": int(scores.size), "score_column": args.score_column,
        "frozen_threshold": frozen, "untrained": sorted({f.name for f in files} - training),
        **evaluate(files, frozen, {f.name for f in files} - training),
        "score_p99": round(float(np.nanquantile(scores, 0.99)), 4),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
