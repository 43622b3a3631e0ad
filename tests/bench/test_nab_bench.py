"""bench.nab's protocols on a tiny synthetic NAB tree, scoring the alarm stage: frozen settings from the profile,
the replay's own alarm column, leave-one-category-out over the (threshold, refractory) grid, untrained,
--score-column, --detectors and --plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bench import nab, nab_tuning
from bench.nab_score import COSTS, NabFile, file_score, normalize, sweep
from policies.alarm import alarm_points
from studio import PROJECT_ROOT

# (category/file, rows, windows as row ranges); nyc_taxi and speed_7578 are in the ops profile's training list.
# Rows 0..29 are NAB's probation (0.15 x 200).
SPECS = [("realKnownCause/nyc_taxi.csv", 200, [(120, 140)]), ("realKnownCause/other.csv", 200, [(60, 80)]),
         ("realTraffic/speed_7578.csv", 200, [(150, 170)]), ("realTraffic/t2.csv", 200, [(100, 110)]),
         ("artificialNoAnomaly/flat.csv", 200, [])]
FROZEN = (0.99, 50)  # the frozen pair the value-specific tests pin (`pinned`); the profile's own is read below


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench.nab's frozen alarm settings pinned to FROZEN (the training list stays the profile's)."""
    _, training = nab.profile_settings()
    monkeypatch.setattr(nab, "profile_settings", lambda: (FROZEN, training))


def plant(rel: str, n: int, windows: list[tuple[int, int]], rng: np.random.Generator) -> np.ndarray:
    """Noise below every grid threshold, plus planted crossings that make the categories favour different pairs:

    realKnownCause: the window's hit only reaches 0.96 (needs t = 0.95) and a 0.999 echo 32 rows later is a
    false positive that a refractory of 50 or more suppresses; realTraffic: the hit reaches 0.995 but a 0.999
    false positive 33 rows before it suppresses the hit for a refractory of 50 or more; artificialNoAnomaly:
    false positives at 0.985 and 0.96. Every file has a 0.96 false positive at row 190."""
    score = rng.random(n) * 0.9
    for a, b in windows:
        if "Known" in rel:
            score[a + 3], score[b + 15] = 0.96, 0.999
        else:
            score[a + 3], score[a - 30] = 0.995, 0.999
    if not windows:
        score[100] = 0.985
    score[190] = 0.96
    return score


def make_tree(tmp_path: Path, seed: int = 0, alarm: tuple[float, int] | None = FROZEN) -> tuple[Path, Path]:
    """A NAB layout (labels + replay outputs); the `alarm` column is the alarm stage at `alarm` (None: no column)."""
    rng = np.random.default_rng(seed)
    data, out = tmp_path / "nab", tmp_path / "out"
    labels = {}
    for rel, n, windows in SPECS:
        ts = pd.date_range("2014-01-01", periods=n, freq="5min")
        score = plant(rel, n, windows, rng)
        other = rng.random(n) * 0.9
        for a, _ in windows:
            other[a + 1] = 0.97
        labels[rel] = [[str(ts[a]) + ".000000", str(ts[b]) + ".000000"] for a, b in windows]
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        df = pd.DataFrame({"timestamp": ts.strftime("%Y-%m-%d %H:%M:%S"), "value": rng.normal(size=n),
                           "anomaly_score": score, "score_other": other})
        if alarm is not None:
            flags, _ = alarm_points(score.tolist(), list(range(n)), {}, threshold=alarm[0], refractory=alarm[1])
            df["alarm"] = [int(x) for x in flags]
        df.loc[:10, "score_other"] = None  # warm-up: no score yet
        df.to_csv(out / rel, index=False)
    (data / "labels").mkdir(parents=True)
    (data / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    return data, out


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:  # type: ignore[type-arg]
    nab.main(list(argv))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1  # one JSON line
    return json.loads(lines[0])


def alarm_score(files: list[NabFile], pair: tuple[float, int], profile: str) -> tuple[float, float, int, int]:
    """(normalized, raw, tp, fp) of the alarm stage at `pair`, straight from NAB's scorer on the alarm files."""
    s = sweep(nab.alarm_files(files, *pair), profile)
    raw, tp, fp = s.at(0.5)
    return s.normalize(raw), raw, tp, fp


def brute_best(files: list[NabFile], profile: str) -> tuple[float, int]:
    """The best grid pair by exhaustive search; ties to the higher threshold, then the larger refractory."""
    return max(((t, k) for t in nab.GRID_T for k in nab.GRID_K),
               key=lambda pair: (round(alarm_score(files, pair, profile)[0], 9), pair[0], pair[1]))


def test_alarm_stage_offline() -> None:
    # the first point of a run alarms; a second crossing within the refractory period does not; NaN is below
    scores = np.full(120, 0.1)
    scores[40:44] = 0.95  # a run: only row 40 alarms
    scores[60] = 0.97  # a second crossing 20 rows later
    scores[90], scores[91], scores[92] = 0.96, np.nan, 0.96  # NaN breaks the run and never alarms
    f = NabFile("cat/x.csv", scores, [])
    at = {k: np.flatnonzero(nab.alarm_files([f], 0.9, k)[0].scores).tolist() for k in (0, 19, 20, 25, 60)}
    assert at[0] == [40, 60, 90, 92]  # without a refractory period every crossing alarms, NaN counted as below
    assert at[19] == [40, 60, 90]  # 60 - 40 = 19 + 1 rows apart; 92 is 2 rows after 90
    assert at[20] == at[25] == [40, 90]  # 60 - 40 = 20 is not more than 20
    assert at[60] == [40]
    assert set(nab.alarm_files([f], 0.9, 0)[0].scores.tolist()) == {0.0, 1.0}
    assert nab.alarm_files([f], 0.99, 0)[0].scores.sum() == 0


def test_refractory_suppresses_the_echo_in_the_score(tmp_path: Path) -> None:
    data, out = make_tree(tmp_path)
    files, _ = nab.load_files(data, out)
    known = [f for f in files if f.category == "realKnownCause"]
    # at t = 0.95 each file has hit, echo (+32 rows; -> other's echo at 95 is 32 after 63) and the row-190 FP
    _, raw0, tp0, fp0 = alarm_score(known, (0.95, 0), "standard")
    _, raw50, tp50, fp50 = alarm_score(known, (0.95, 50), "standard")
    assert tp0 == tp50 == 2 and fp0 == 4 and fp50 == 2 and raw50 > raw0
    table = nab.AlarmTable(files)
    mask = table.mask(category="realKnownCause")
    assert table.summary((0.95, 50), "standard", mask)["fp"] == 2
    assert table.summary((0.95, 25), "standard", mask)["fp"] == 4


def test_frozen_settings_come_from_the_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = yaml.safe_load((PROJECT_ROOT / "profiles" / "ops.yaml").read_text())
    frozen, training = nab.profile_settings()
    assert frozen == (spec["alarm"]["threshold"], spec["alarm"]["refractory"])
    assert training == {t["path"].removeprefix("nab/data/") for t in spec["training"]}
    data, out = make_tree(tmp_path, alarm=frozen)  # the replay's alarm column at the profile's settings
    r = run(capsys, "--skip-replay", "--data", str(data), "--out", str(out))
    assert r["frozen"] == {"threshold": frozen[0], "refractory": frozen[1]}
    files, _ = nab.load_files(data, out)
    for p in COSTS:
        norm, raw, tp, fp = alarm_score(files, frozen, p)
        got = r["all_frozen"][p]
        assert (got["threshold"], got["refractory"], got["tp"], got["fp"]) == (*frozen, tp, fp)
        assert got["raw"] == pytest.approx(raw, abs=1e-3) and got["score"] == pytest.approx(norm, abs=0.006)
        assert r["replay_alarm"][p] == {k: got[k] for k in ("score", "raw", "tp", "fp", "fn", "windows")}
    assert r["replay_alarm_mismatch_rows"] == 0


def test_frozen_protocols(tmp_path: Path, capsys: pytest.CaptureFixture[str], pinned: None) -> None:
    data, out = make_tree(tmp_path)
    r = run(capsys, "--skip-replay", "--data", str(data), "--out", str(out))
    frozen, training = nab.profile_settings()
    assert frozen == FROZEN and r["frozen"] == {"threshold": 0.99, "refractory": 50}
    assert r["files"] == 5 and r["rows"] == 1000 and r["score_column"] == "anomaly_score"
    assert r["replay_seconds"] is None
    assert {"realKnownCause/nyc_taxi.csv", "realTraffic/speed_7578.csv"} <= training
    assert r["untrained_files"] == 3 and "realKnownCause/nyc_taxi.csv" not in r["untrained"]
    files, _ = nab.load_files(data, out)
    untrained = [f for f in files if f.name in set(r["untrained"])]
    for p in COSTS:
        for proto, subset in (("all_frozen", files), ("untrained_frozen", untrained)):
            got = r[proto][p]
            norm, raw, tp, fp = alarm_score(subset, FROZEN, p)
            assert (got["threshold"], got["refractory"]) == FROZEN
            assert got["score"] == pytest.approx(norm, abs=0.006) and got["raw"] == pytest.approx(raw, abs=1e-3)
            assert (got["tp"], got["fp"]) == (tp, fp)
        assert r["all_frozen"][p]["windows"] == 4 and r["untrained_frozen"][p]["windows"] == 2
        # the replay's alarm column was written by alarm_points at the frozen pair: the same score
        assert {k: r["replay_alarm"][p][k] for k in ("score", "raw", "tp", "fp", "fn", "windows")} == \
            {k: r["all_frozen"][p][k] for k in ("score", "raw", "tp", "fp", "fn", "windows")}
        for proto, subset in (("oracle_all", files), ("oracle_untrained", untrained)):
            pair = brute_best(subset, p)
            assert (r[proto][p]["threshold"], r[proto][p]["refractory"]) == pair
            assert r[proto][p]["score"] >= r["all_frozen" if proto == "oracle_all" else "untrained_frozen"][p]["score"]
    assert r["replay_alarm_mismatch_rows"] == 0
    # at the frozen pair the Traffic hits (0.995) are suppressed by the 0.999 false positives 33 rows earlier
    assert r["all_frozen"]["standard"]["tp"] == 0
    assert r["alarms_frozen"] == sum(int(f.scores.sum()) for f in nab.alarm_files(files, *FROZEN))


def test_replay_alarm_column_that_disagrees(tmp_path: Path, capsys: pytest.CaptureFixture[str], pinned: None) -> None:
    data, out = make_tree(tmp_path, alarm=(0.95, 0))
    r = run(capsys, "--skip-replay", "--data", str(data), "--out", str(out))
    assert r["replay_alarm_mismatch_rows"] > 0
    assert r["replay_alarm"]["standard"]["tp"] == 4 != r["all_frozen"]["standard"]["tp"]
    data2, out2 = make_tree(tmp_path / "noalarm", alarm=None)
    r = run(capsys, "--skip-replay", "--data", str(data2), "--out", str(out2))
    assert r["replay_alarm"] is None and r["all_frozen"]["standard"]["windows"] == 4


def test_loco_matches_brute_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, out = make_tree(tmp_path)
    r = run(capsys, "--skip-replay", "--data", str(data), "--out", str(out))
    files, _ = nab.load_files(data, out)
    for p in COSTS:
        loco = r["loco"][p]
        assert set(loco["folds"]) == {"realKnownCause", "realTraffic", "artificialNoAnomaly"}
        raw, null, perfect = 0.0, 0.0, 0.0
        for cat, fold in loco["folds"].items():
            pair = brute_best([f for f in files if f.category != cat], p)
            assert (fold["threshold"], fold["refractory"]) == pair, (p, cat)
            held = [f for f in files if f.category == cat]
            s = sweep(nab.alarm_files(held, *pair), p)
            h_raw, tp, fp = s.at(0.5)
            assert fold["raw"] == pytest.approx(h_raw, abs=1e-3) and (fold["tp"], fold["fp"]) == (tp, fp)
            assert fold["fn"] == s.scored_windows - tp
            assert fold["score"] == (round(s.normalize(h_raw), 2) if s.windows else None)
            raw, null, perfect = raw + h_raw, null + s.null, perfect + s.perfect
        assert loco["score"] == pytest.approx(normalize(raw, null, perfect), abs=0.006)
    folds = r["loco"]["standard"]["folds"]
    # realKnownCause's own best pair is (0.95, 200) (its hits only reach 0.96); the other categories choose
    known = [f for f in files if f.category == "realKnownCause"]
    assert brute_best(known, "standard") == (0.95, 200)
    assert (folds["realKnownCause"]["threshold"], folds["realKnownCause"]["refractory"]) == (0.995, 25)
    assert (folds["realTraffic"]["threshold"], folds["realTraffic"]["refractory"]) == (0.95, 200)


def test_held_out_labels_never_choose_its_pair(tmp_path: Path) -> None:
    data, out = make_tree(tmp_path)
    files, _ = nab.load_files(data, out)
    moved = [f if f.category != "realTraffic" else NabFile(f.name, f.scores, [(115, 135)]) for f in files]
    for p in COSTS:
        before = nab.leave_one_category_out(nab.AlarmTable(files), p)["folds"]["realTraffic"]
        after = nab.leave_one_category_out(nab.AlarmTable(moved), p)["folds"]["realTraffic"]
        assert (after["threshold"], after["refractory"]) == (before["threshold"], before["refractory"])
        assert after["raw"] != before["raw"]  # the moved labels are used, to score only


def test_score_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, out = make_tree(tmp_path)
    r = run(capsys, "--skip-replay", "--data", str(data), "--out", str(out), "--score-column", "score_other")
    assert r["score_column"] == "score_other" and "replay_alarm" not in r
    # 0.97 at every window: t in {0.95, 0.97} detects all four, no false positive; ties -> 0.97, refractory 200
    best = r["oracle_all"]["standard"]
    assert (best["threshold"], best["refractory"], best["tp"], best["fp"]) == (0.97, 200, 4, 0)
    assert best["score"] == pytest.approx(alarm_score(nab.load_files(data, out, "score_other")[0], (0.97, 200),
                                                      "standard")[0], abs=0.006)
    with pytest.raises(SystemExit, match="no column 'score_nope'.*anomaly_score, score_other"):
        nab.main(["--skip-replay", "--data", str(data), "--out", str(out), "--score-column", "score_nope"])


def test_detectors_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, out = make_tree(tmp_path)
    for rel, *_ in SPECS:  # a third model's column
        df = pd.read_csv(out / rel)
        df["score_third"] = np.linspace(0.0, 1.0, len(df))
        df.to_csv(out / rel, index=False)
    r = run(capsys, "--skip-replay", "--data", str(data), "--out", str(out), "--detectors")
    assert r["score_columns"] == ["anomaly_score", "score_other", "score_third"] == list(r["table"])
    frozen, _ = nab.profile_settings()
    assert r["files"] == 5 and r["frozen"] == {"threshold": frozen[0], "refractory": frozen[1]}
    for column in r["score_columns"]:
        single = run(capsys, "--skip-replay", "--data", str(data), "--out", str(out), "--score-column", column)
        row = r["table"][column]
        for proto in ("all_frozen", "loco", "untrained_frozen", "oracle_all"):
            assert row[proto] == {p: single[proto][p]["score"] for p in COSTS}
        assert (row["tp"], row["fp"]) == (single["all_frozen"]["standard"]["tp"], single["all_frozen"]["standard"]["fp"])
    assert r["table"]["score_third"]["fp"] == 5  # one crossing per file, in no window


def test_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str], pinned: None) -> None:
    data, out = make_tree(tmp_path)
    files, _ = nab.load_files(data, out)
    other = next(f for f in files if f.name == "realKnownCause/other.csv")
    r = run(capsys, "--skip-replay", "--data", str(data), "--out", str(out), "--plot", "other")
    png = out / "other.png"
    assert r["plot"] == str(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert r["stream"] == "realKnownCause/other.csv" and (r["threshold"], r["refractory"]) == FROZEN
    assert r["alarms"] == 1  # the 0.999 echo at row 95; 0.96 at the hit and at row 190 are below 0.99
    flags = nab.alarm_files([other], *FROZEN)[0]
    assert r["raw"] == {p: round(file_score(flags, 0.5, c)[0], 3) for p, c in COSTS.items()}
    r = run(capsys, "--skip-replay", "--data", str(data), "--out", str(out), "--plot", "realTraffic/t2",
            "--threshold", "0.5")
    t2 = next(f for f in files if f.name == "realTraffic/t2.csv")
    every = np.flatnonzero(nab.alarm_flags(t2.scores, 0.5, 50))
    assert (r["threshold"], r["refractory"]) == (0.5, 50)
    assert r["alarms"] == int((every >= t2.probation).sum()) and 2 <= r["alarms"] <= 4  # 170 rows, 50 apart
    assert r["alarms"] + r["alarms_in_probation"] == every.size
    with pytest.raises(SystemExit, match="not a NAB stream"):
        nab.main(["--skip-replay", "--data", str(data), "--out", str(out), "--plot", "nope"])


def test_vectorized_alarm_flags_equal_the_product_stage() -> None:
    rng = np.random.default_rng(3)
    for _ in range(30):
        scores = rng.random(400)
        scores[rng.random(400) < 0.05] = np.nan
        t, k = float(rng.choice([0.5, 0.8, 0.95])), int(rng.choice([0, 3, 17, 60]))
        product, _ = alarm_points(np.where(np.isnan(scores), -np.inf, scores).tolist(), range(400), {},
                                  threshold=t, refractory=k)
        np.testing.assert_array_equal(nab.alarm_flags(scores, t, k), np.asarray(product))


def cn_frames(labels_of: dict[str, list[tuple[int, int]]]) -> list:  # type: ignore[type-arg]
    """Synthetic frames: a daily-like wave whose shape changes inside each window, every combine member's column."""
    prof = nab.ops_profile()
    frames = []
    for i, (rel, windows) in enumerate(sorted(labels_of.items())):
        n = 1500
        x = np.sin(np.arange(n) * 2 * np.pi / 60) + 0.01 * np.random.default_rng(i).normal(size=n)
        for a, b in windows:
            x[a:b] = 0.3 * x[a:b] + 0.4
        df = pd.DataFrame({"value": x})
        for m in prof.combine.all_members():
            df[f"score_{m}"] = 0.5
        frames.append((rel, df, windows, np.arange(n, dtype=float) * 300))
    return frames


def test_loco_detectors_chooses_the_setting_on_the_other_categories(monkeypatch: pytest.MonkeyPatch) -> None:
    grid = [{"window": 6, "vigilance": 0.08, "quiet": 96}, {"window": 4, "vigilance": 0.3, "quiet": 96}]
    monkeypatch.setattr(nab_tuning, "CN_GRID", grid)
    prof = nab.ops_profile()
    labels = {"realKnownCause/nyc_taxi.csv": [(900, 1000)], "realKnownCause/b.csv": [(700, 800)],
              "realTraffic/speed_7578.csv": [(1000, 1100)], "realTraffic/d.csv": [(800, 900)]}
    frames = cn_frames(labels)
    _, training = nab.profile_settings()
    own = nab_tuning.detector_ranks(frames, "context_novelty", grid[0], training, prof.features.warmup_points)
    for rel, df, _, _ in frames:
        df["score_context_novelty"] = own[rel]
    files = [NabFile(rel, np.zeros(len(df)), w, values=df["value"].to_numpy()) for rel, df, w, _ in frames]
    r = nab_tuning.loco_detectors(frames, prof.combine, files, training, prof.features.warmup_points)
    assert r["detector_max_diff"] == 0.0  # the recomputed column at the profile's own settings is the replay's
    for cat, fold in r["standard"]["folds"].items():
        # the fold's setting is the best one on the other category alone, whatever the held-out labels say
        other = [f for f in frames if not f[0].startswith(cat)]
        scores = []
        for params in grid:
            col = nab_tuning.detector_ranks(frames, "context_novelty", params, training, prof.features.warmup_points)
            t = nab.AlarmTable([NabFile(rel, np.maximum(col[rel], 0.5), w) for rel, _, w, _ in other])  # novel_level: 0.5
            m = t.mask()
            scores.append(t.summary(t.best("standard", m), "standard", m)["score"])
        assert fold["train_score"] == max(scores)
        assert fold["context_novelty"] == grid[int(np.argmax(scores))]
