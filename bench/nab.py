"""Replay every NAB stream through `studio replay --profile ops` (timed) and score its alarm stage with NAB's exact scorer.

    python -m bench.nab [--data ../shared/data/nab] [--out var/bench/nab] [--skip-replay]
                        [--score-column anomaly_score | --detectors] [--plot STREAM [--threshold T]]

What is scored is the product's alarm stage (policies/alarm.py): a row alarms when the score reaches the
threshold at the start of a run of such rows, more than `refractory` rows after the file's previous alarm.
The stage is a pure function of the continuous score, so the bench re-runs it offline (`alarm_files`: over
each file's rows in order, from an empty state, positions = row index; a missing score never alarms and
counts as below) for any (threshold, refractory), and NAB scores the flags (detections = alarms). The
alarm flags are computed once per (file, threshold, refractory) and NAB's per-file raw, tp and fp once per
(file, pair, NAB profile); every protocol sums those (raw, null and perfect scores add over files).

Prints one JSON line. The labels are used only to score, never to choose something reported on the same
labels, except in the fields named `oracle_*` (the best grid pair on the scored streams, an upper bound and
labelled as such). Each protocol is reported for NAB's three profiles (standard, reward_low_FP_rate,
reward_low_FN_rate):

- `all_frozen`: all 31 streams at the profile's frozen alarm settings (`alarm.threshold` and
  `alarm.refractory` of profiles/ops.yaml, reported as `frozen`);
- `replay_alarm` (for `anomaly_score` only): the replay CSVs' own `alarm` column scored as is; it equals
  `all_frozen` when the product's alarm stage and this offline re-run agree (`replay_alarm_mismatch_rows`
  counts the rows where they differ);
- `loco`: leave-one-category-out: for each of the 5 NAB categories the (threshold, refractory) pair of the
  grid GRID_T x GRID_K with the best normalized score on the other four; the held-out raw scores are summed
  and normalized once with the summed null and perfect scores;
- `loco_tuned` (for `anomaly_score` only): leave-one-category-out where the combination's own tunables are
  chosen on the other four categories too: the consensus' k and discount (bench/nab_tuning.py)
  together with the alarm pair; the anomaly score is recomputed from the replay's per-model columns with the
  product's function (policies/combination.py; `combination_max_diff` checks it against the replay's
  `anomaly_score` at the profile's own k and discount). The detectors' internal settings are not re-chosen;
- `loco_detectors` (for `anomaly_score` only): the same, choosing the context-novelty detector's settings
  (bench/nab_tuning.py's CN_GRID) with the alarm pair; its column is recomputed from the values with the
  product's classes (`detector_max_diff` checks it against the replay at the profile's own setting);
- `untrained_frozen`: the streams not in the ops profile's `training:` list, at the frozen settings;
- `oracle_all` / `oracle_untrained`: the best grid pair on all / the untrained streams.

Ties between grid pairs (normalized scores within 1e-9) go to the higher threshold, then the larger
refractory: the quieter alarm stage.

`--score-column` runs the alarm stage on any column of the replay CSVs (e.g. `score_cusum`, one per model)
and scores it the same way; `--detectors` does so for `anomaly_score` and every `score_*` column and prints
a compact table. `--plot STREAM` writes STREAM.png (values, score with the alarm threshold, the alarm
stage's alarms at the frozen settings or at --threshold with the frozen refractory, labelled windows,
probation) into --out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.nab_score import COSTS, NabFile, normalize, scored_windows, summarize, sweep, window_rows
from models.datasets import read_timestamps
from studio import PROJECT_ROOT

PROFILE = "ops"
GRID_T = (0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999)
GRID_K = (0, 25, 50, 100, 200)
GRID = [(t, k) for t in GRID_T for k in GRID_K]
# the order ties are broken in: higher threshold first, then larger refractory
PREFERENCE = sorted(GRID, key=lambda pair: (-pair[0], -pair[1]))
TIE = 1e-9
TABLE_PROTOCOLS = ("all_frozen", "loco", "untrained_frozen", "oracle_all")
Pair = tuple[float, int]
Frames = list[tuple[str, pd.DataFrame, list[tuple[int, int]], np.ndarray]]  # (file, replay CSV, windows, stamps)


def _frames(data: Path, out: Path, only: list[str] | None = None) -> list[tuple[str, pd.DataFrame, list[tuple[int, int]], np.ndarray]]:
    """Each replay output (NAB order) with its labelled windows as row ranges and its timestamps (epoch s)."""
    labels = json.loads((data / "labels" / "combined_windows.json").read_text())
    frames = []
    for rel, windows in sorted(labels.items()):
        if only is not None and rel not in only:
            continue
        result = out / rel
        if not result.is_file():
            raise SystemExit(f"missing replay output {result} (run without --skip-replay)")
        df = pd.read_csv(result)
        ts = np.asarray(read_timestamps(df["timestamp"], "iso"), dtype=float)
        bounds = [(pd.Timestamp(a, tz="UTC").timestamp(), pd.Timestamp(b, tz="UTC").timestamp()) for a, b in windows]
        frames.append((rel, df, window_rows(ts, bounds), ts))
    return frames


def score_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c == "anomaly_score" or c.startswith("score_")]


def _nab_files(frames: list[tuple[str, pd.DataFrame, list[tuple[int, int]], np.ndarray]], column: str) -> list[NabFile]:
    files = []
    for rel, df, windows, _ in frames:
        if column not in df.columns:
            raise SystemExit(f"{rel} has no column {column!r}; score columns: {', '.join(score_columns(df))}")
        scores = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
        files.append(NabFile(rel, scores, windows, values=df["value"].to_numpy(dtype=float)))
    return files


def load_files(data: Path, out: Path, column: str = "anomaly_score",
               only: list[str] | None = None) -> tuple[list[NabFile], dict[str, np.ndarray]]:
    """Replay outputs (one column's continuous scores) joined with NAB's windows; also each file's timestamps."""
    frames = _frames(data, out, only)
    return _nab_files(frames, column), {rel: ts for rel, _, _, ts in frames}


def alarm_flags(scores: np.ndarray, threshold: float, refractory: int) -> np.ndarray:
    """The alarm stage over one file's rows in order from an empty state (positions = row index); NaN is below.
    The same flags as policies/alarm.py's `alarm_points` (a test checks it), computed with arrays: the starts of
    runs at or above the threshold, then the refractory rule walked over those few starts only."""
    above = np.where(np.isnan(scores), False, scores >= threshold)
    starts = np.flatnonzero(above & ~np.concatenate([[False], above[:-1]]))
    flags = np.zeros(scores.size, dtype=bool)
    last = None
    for i in starts.tolist():
        if last is None or i - last > refractory:
            flags[i] = True
            last = i
    return flags


def alarm_files(files: list[NabFile], threshold: float, refractory: int) -> list[NabFile]:
    """NabFiles whose scores are the alarm stage's flags (1.0 / 0.0): NAB-score them with `.at(0.5)`."""
    return [NabFile(f.name, alarm_flags(f.scores, threshold, refractory).astype(float), f.windows, values=f.values)
            for f in files]


class AlarmTable:
    """NAB counts of the alarm stage's output per file, per (threshold, refractory) pair and NAB profile.

    The flags of a pair are computed once per file and NAB's raw, tp and fp once per (file, pair, profile);
    any subset of files is then scored by sums (raw, tp, fp, null and perfect all add over files)."""

    def __init__(self, files: list[NabFile]):
        self.files = files
        self.categories = np.array([f.category for f in files])
        self.scored = np.array([scored_windows(f) for f in files], dtype=np.int64)
        self.windows = np.array([len(f.windows) for f in files], dtype=np.int64)
        self._flags: dict[Pair, list[np.ndarray]] = {}
        self._counts: dict[Pair, dict[str, np.ndarray]] = {}
        self._by_alarms: dict[tuple[int, bytes], dict[str, tuple[float, int, int]]] = {}

    def mask(self, names: set[str] | None = None, category: str | None = None, exclude: str | None = None) -> np.ndarray:
        m = np.ones(len(self.files), dtype=bool)
        if names is not None:
            m &= np.array([f.name in names for f in self.files], dtype=bool)
        if category is not None:
            m &= self.categories == category
        if exclude is not None:
            m &= self.categories != exclude
        return m

    def flags(self, pair: Pair) -> list[np.ndarray]:
        if pair not in self._flags:
            self._flags[pair] = [alarm_flags(f.scores, pair[0], pair[1]) for f in self.files]
        return self._flags[pair]

    def counts(self, pair: Pair, profile: str) -> np.ndarray:
        """(files, 3): raw NAB score, windows detected, false-positive alarms of each file at `pair`."""
        if pair not in self._counts:
            per_file = [self._file_counts(i, a) for i, a in enumerate(self.flags(pair))]
            self._counts[pair] = {p: np.array([c[p] for c in per_file], dtype=float).reshape(-1, 3) for p in COSTS}
        return self._counts[pair][profile]

    def _file_counts(self, i: int, flags: np.ndarray) -> dict[str, tuple[float, int, int]]:
        """NAB's (raw, tp, fp) of one file's alarms per profile; pairs giving the same alarms share the sweep."""
        key = (i, np.flatnonzero(flags).tobytes())
        if key not in self._by_alarms:
            f = self.files[i]
            alarmed = NabFile(f.name, flags.astype(float), f.windows)
            self._by_alarms[key] = {p: sweep([alarmed], p).at(0.5) for p in COSTS}
        return self._by_alarms[key]

    def null_perfect(self, profile: str, mask: np.ndarray) -> tuple[float, float]:
        c = COSTS[profile]
        return -c["fn"] * float(self.scored[mask].sum()), c["tp"] * float(self.windows[mask].sum())

    def raw(self, pair: Pair, profile: str, mask: np.ndarray) -> float:
        return float(self.counts(pair, profile)[mask, 0].sum())

    def summary(self, pair: Pair, profile: str, mask: np.ndarray) -> dict[str, Any]:
        c = self.counts(pair, profile)[mask]
        raw, tp, fp = float(c[:, 0].sum()), int(round(c[:, 1].sum())), int(round(c[:, 2].sum()))
        null, perfect = self.null_perfect(profile, mask)
        return {"score": round(normalize(raw, null, perfect), 2), "threshold": pair[0], "refractory": pair[1],
                "raw": round(raw, 3), "tp": tp, "fp": fp, "fn": int(self.scored[mask].sum()) - tp,
                "windows": int(self.windows[mask].sum())}

    def best(self, profile: str, mask: np.ndarray) -> Pair:
        """The grid pair with the best normalized score on `mask`; ties: higher threshold, then larger refractory."""
        null, perfect = self.null_perfect(profile, mask)
        score = {pair: normalize(self.raw(pair, profile, mask), null, perfect) for pair in GRID}
        top = max(score.values())
        return next(pair for pair in PREFERENCE if score[pair] >= top - TIE)


def leave_one_category_out(table: AlarmTable, profile: str) -> dict[str, Any]:
    """Pair chosen on the other categories, scored on the held-out one; held-out raw summed, normalized once."""
    folds: dict[str, Any] = {}
    raw_total, null_total, perfect_total = 0.0, 0.0, 0.0
    for cat in sorted(set(table.categories.tolist())):
        train, held = table.mask(exclude=cat), table.mask(category=cat)
        pair = table.best(profile, train)
        s = table.summary(pair, profile, held)
        null, perfect = table.null_perfect(profile, held)
        raw = table.raw(pair, profile, held)
        raw_total, null_total, perfect_total = raw_total + raw, null_total + null, perfect_total + perfect
        folds[cat] = {"threshold": pair[0], "refractory": pair[1],
                      "train_score": table.summary(pair, profile, train)["score"], "raw": s["raw"],
                      "score": s["score"] if s["windows"] else None,
                      "tp": s["tp"], "fp": s["fp"], "fn": s["fn"], "windows": s["windows"]}
    return {"score": round(normalize(raw_total, null_total, perfect_total), 2), "raw": round(raw_total, 3),
            "folds": folds}


def evaluate(table: AlarmTable, frozen: Pair, untrained: set[str]) -> dict[str, Any]:
    every, held = table.mask(), table.mask(names=untrained)
    return {
        "all_frozen": {p: table.summary(frozen, p, every) for p in COSTS},
        "loco": {p: leave_one_category_out(table, p) for p in COSTS},
        "untrained_frozen": {p: table.summary(frozen, p, held) for p in COSTS},
        "oracle_all": {p: table.summary(table.best(p, every), p, every) for p in COSTS},
        "oracle_untrained": {p: table.summary(table.best(p, held), p, held) for p in COSTS},
        "untrained_files": int(held.sum()),
    }


def replay_alarm(frames: list[tuple[str, pd.DataFrame, list[tuple[int, int]], np.ndarray]], table: AlarmTable,
                 frozen: Pair) -> dict[str, Any]:
    """The replay CSVs' own `alarm` column scored as is, and the rows where it differs from the offline stage."""
    if not all("alarm" in df.columns for _, df, _, _ in frames):
        return {"replay_alarm": None, "replay_alarm_mismatch_rows": None}
    files = [NabFile(rel, pd.to_numeric(df["alarm"], errors="coerce").fillna(0).to_numpy(dtype=float), windows)
             for rel, df, windows, _ in frames]
    mismatch = sum(int(np.count_nonzero((f.scores >= 0.5) != a)) for f, a in zip(files, table.flags(frozen), strict=True))
    out = {}
    for p in COSTS:
        s = summarize(sweep(files, p), 0.5)
        out[p] = {k: s[k] for k in ("score", "raw", "tp", "fp", "fn", "windows")}
    return {"replay_alarm": out, "replay_alarm_mismatch_rows": mismatch}


def ops_profile() -> Any:
    from core.profiles import load_profiles

    return load_profiles(PROJECT_ROOT / "profiles")[PROFILE]


def profile_settings() -> tuple[Pair, set[str]]:
    """The ops profile's frozen alarm settings (threshold, refractory) and its training streams (relative to nab/data)."""
    prof = ops_profile()
    if prof.alarm is None:
        raise SystemExit(f"profile {PROFILE} has no `alarm:` section: nothing to score")
    frozen = (float(prof.alarm.threshold), int(prof.alarm.refractory))
    return frozen, {s.path.split("nab/data/", 1)[-1] for s in prof.training}


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


def detectors_table(frames: list[tuple[str, pd.DataFrame, list[tuple[int, int]], np.ndarray]], frozen: Pair,
                    untrained: set[str]) -> tuple[list[str], dict[str, Any]]:
    """Normalized scores of every score column's alarm stage, per table protocol and NAB profile."""
    present = [c for c in score_columns(frames[0][1]) if all(c in df.columns for _, df, _, _ in frames)]
    table: dict[str, Any] = {}
    for column in present:
        r = evaluate(AlarmTable(_nab_files(frames, column)), frozen, untrained)
        row: dict[str, Any] = {proto: {p: r[proto][p]["score"] for p in COSTS} for proto in TABLE_PROTOCOLS}
        row["tp"], row["fp"] = r["all_frozen"]["standard"]["tp"], r["all_frozen"]["standard"]["fp"]
        table[column] = row
    return present, table


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--data", default=str(PROJECT_ROOT.parent / "shared" / "data" / "nab"))
    p.add_argument("--out", default=str(PROJECT_ROOT / "var" / "bench" / "nab"))
    p.add_argument("--skip-replay", action="store_true", help="score existing outputs only")
    p.add_argument("--score-column", default="anomaly_score",
                   help="replay CSV column whose alarm stage is scored (e.g. score_cusum)")
    p.add_argument("--detectors", action="store_true",
                   help="score anomaly_score and every score_* column; print a compact table")
    p.add_argument("--plot", metavar="STREAM", help="write STREAM.png into --out instead of scoring the corpus")
    p.add_argument("--threshold", type=float,
                   help="alarm threshold for --plot (default: the profile's alarm.threshold; refractory stays frozen)")
    args = p.parse_args(argv)
    if args.plot and args.detectors:
        p.error("--plot and --detectors do not combine")
    data, out = Path(args.data), Path(args.out)
    frozen, training = profile_settings()
    if args.plot:
        from bench.nab_plot import plot_stream

        rel = resolve_stream(data, args.plot)
        if not args.skip_replay and not (out / rel).is_file():
            replay(data, out, rel)
        files, stamps = load_files(data, out, args.score_column, only=[rel])
        threshold = frozen[0] if args.threshold is None else args.threshold
        flags = alarm_flags(files[0].scores, threshold, frozen[1])
        print(json.dumps(plot_stream(files[0], stamps[rel], flags, threshold, frozen[1], out, args.score_column)))
        return
    seconds = None if args.skip_replay else replay(data, out)
    frames = _frames(data, out)
    names = {rel for rel, _, _, _ in frames}
    untrained = names - training
    head = {"replay_seconds": seconds, "files": len(frames), "rows": int(sum(len(df) for _, df, _, _ in frames))}
    common = {"frozen": {"threshold": frozen[0], "refractory": frozen[1]}, "untrained": sorted(untrained),
              "grid": {"threshold": list(GRID_T), "refractory": list(GRID_K)}}
    if args.detectors:
        columns, rows = detectors_table(frames, frozen, untrained)
        print(json.dumps({**head, "score_columns": columns, **common, "untrained_files": len(untrained),
                          "table": rows}))
        return
    files = _nab_files(frames, args.score_column)
    table = AlarmTable(files)
    scores = np.concatenate([f.scores for f in files])
    result: dict[str, Any] = {**head, "score_column": args.score_column, **common, **evaluate(table, frozen, untrained)}
    if args.score_column == "anomaly_score":
        result.update(replay_alarm(frames, table, frozen))
        prof = ops_profile()
        combine = prof.combine
        if combine is not None and all(f"score_{m}" in df.columns for m in combine.all_members()
                                       for _, df, _, _ in frames):
            from bench.nab_tuning import loco_detectors, loco_tuned

            if combine.consensus is not None:
                result["loco_tuned"] = loco_tuned(frames, combine, files)
            if "context_novelty" in combine.all_members() and prof.features is not None:
                result["loco_detectors"] = loco_detectors(frames, combine, files, training,
                                                          prof.features.warmup_points)
    result["alarms_frozen"] = int(sum(int(a.sum()) for a in table.flags(frozen)))
    result["score_p99"] = round(float(np.nanquantile(scores, 0.99)), 4) if np.isfinite(scores).any() else None
    print(json.dumps(result))


if __name__ == "__main__":
    main()
