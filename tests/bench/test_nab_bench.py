"""bench.nab's protocols on a tiny synthetic NAB tree: frozen threshold, leave-one-category-out, untrained, plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import nab
from bench.nab_score import sweep

# (category/file, rows, windows as row ranges); nyc_taxi and speed_7578 are in the ops profile's training list
SPECS = [("realKnownCause/nyc_taxi.csv", 200, [(120, 140)]), ("realKnownCause/other.csv", 200, [(60, 80)]),
         ("realTraffic/speed_7578.csv", 200, [(150, 170)]), ("realTraffic/t2.csv", 200, [(100, 110)]),
         ("artificialNoAnomaly/flat.csv", 200, [])]


def make_tree(tmp_path: Path, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    data, out = tmp_path / "nab", tmp_path / "out"
    labels = {}
    for rel, n, windows in SPECS:
        ts = pd.date_range("2014-01-01", periods=n, freq="5min")
        score = rng.random(n) * 0.9
        other = rng.random(n) * 0.9
        for a, _ in windows:
            score[a + 3] = 0.95 if "Known" in rel else 0.99  # categories favour different thresholds
            other[a + 1] = 0.97
        score[190] = 0.96  # a false positive late in every file
        labels[rel] = [[str(ts[a]) + ".000000", str(ts[b]) + ".000000"] for a, b in windows]
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        df = pd.DataFrame({"timestamp": ts.strftime("%Y-%m-%d %H:%M:%S"), "value": rng.normal(size=n),
                           "anomaly_score": score, "score_other": other})
        df.loc[:10, "score_other"] = None  # warm-up: no score yet
        df.to_csv(out / rel, index=False)
    (data / "labels").mkdir(parents=True)
    (data / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    return data, out


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:  # type: ignore[type-arg]
    nab.main(list(argv))
    return json.loads(capsys.readouterr().out)


def test_protocols(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, out = make_tree(tmp_path)
    r = run(capsys, "--skip-replay", "--data", str(data), "--out", str(out))
    frozen, training = nab.profile_settings()
    assert r["frozen_threshold"] == frozen == 0.92 and r["files"] == 5 and r["rows"] == 1000
    assert {"realKnownCause/nyc_taxi.csv", "realTraffic/speed_7578.csv"} <= training
    assert r["untrained_files"] == 3 and "realKnownCause/nyc_taxi.csv" not in r["untrained"]
    for p in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
        assert r["all_frozen"][p]["threshold"] == 0.92 and r["untrained_frozen"][p]["threshold"] == 0.92
        assert r["all_frozen"][p]["windows"] == 4 and r["untrained_frozen"][p]["windows"] == 2
        assert r["oracle_all"][p]["score"] >= r["all_frozen"][p]["score"]
    files, _ = nab.load_files(data, out)
    loco = r["loco"]["standard"]
    raw, null, perfect = 0.0, 0.0, 0.0
    for cat, fold in loco["folds"].items():
        others = sweep([f for f in files if f.category != cat], "standard")
        assert fold["threshold"] == pytest.approx(float(others.thresholds[others.best_index()]), abs=1e-6)
        held = sweep([f for f in files if f.category == cat], "standard")
        assert fold["raw"] == pytest.approx(held.at(float(others.thresholds[others.best_index()]))[0], abs=1e-3)
        raw, null, perfect = raw + held.at(fold["threshold"])[0], null + held.null, perfect + held.perfect
    assert loco["score"] == pytest.approx(100 * (raw - null) / (perfect - null), abs=0.01)
    # the held-out category's own best threshold (0.95 on realKnownCause) is not what it is scored at
    assert loco["folds"]["realKnownCause"]["threshold"] == pytest.approx(0.99)


def test_held_out_labels_never_choose_its_threshold(tmp_path: Path) -> None:
    data, out = make_tree(tmp_path)
    files, _ = nab.load_files(data, out)
    before = nab.leave_one_category_out(files, "standard")["folds"]["realTraffic"]["threshold"]
    moved = [f if f.category != "realTraffic" else nab.NabFile(f.name, f.scores, [(20, 40)]) for f in files]
    assert nab.leave_one_category_out(moved, "standard")["folds"]["realTraffic"]["threshold"] == before


def test_score_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, out = make_tree(tmp_path)
    r = run(capsys, "--skip-replay", "--data", str(data), "--out", str(out), "--score-column", "score_other")
    assert r["score_column"] == "score_other"
    assert r["oracle_all"]["standard"]["threshold"] == pytest.approx(0.97)
    assert r["oracle_all"]["standard"]["tp"] == 4 and r["oracle_all"]["standard"]["fp"] == 0
    with pytest.raises(SystemExit, match="no column 'score_nope'.*anomaly_score, score_other"):
        nab.main(["--skip-replay", "--data", str(data), "--out", str(out), "--score-column", "score_nope"])


def test_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, out = make_tree(tmp_path)
    r = run(capsys, "--skip-replay", "--data", str(data), "--out", str(out), "--plot", "other")
    png = out / "other.png"
    assert r["plot"] == str(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert r["stream"] == "realKnownCause/other.csv" and r["threshold"] == 0.92 and r["alarms"] == 2
    r = run(capsys, "--skip-replay", "--data", str(data), "--out", str(out), "--plot", "realTraffic/t2",
            "--threshold", "0.5")
    assert r["threshold"] == 0.5 and r["alarms"] > 2
    with pytest.raises(SystemExit, match="not a NAB stream"):
        nab.main(["--skip-replay", "--data", str(data), "--out", str(out), "--plot", "nope"])
