"""NAB scorer: a hand-computed two-file case, the three profiles, normalisation, and the sweep against brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.nab_score import COSTS, NabFile, corpus_score, file_score, probation_length, scaled_sigmoid, sweep

# sigmoid(x) = 2 / (1 + e^(5x)) - 1; maxTP = sigmoid(-1) = 0.986614
A_ROW10 = 0.859793  # sigmoid(-(11 - 10 + 1) / 4) / maxTP
A_ROW9 = 0.966989  # sigmoid(-(11 - 9 + 1) / 4) / maxTP: earlier in the window, so it wins over row 10
A_ROW14 = -0.986614  # sigmoid(|14 - 11| / (4 - 1)), times the fp weight
B_ROW11 = 0.943742  # sigmoid(-(12 - 11 + 1) / 3) / maxTP
B_ROW4 = -0.999999  # sigmoid(|4 - 1| / (2 - 1)) = sigmoid(3), still on the curve
# B_ROW8: |8 - 1| / 1 = 7 > 3, so exactly -1


def hand_files() -> list[NabFile]:
    a = np.zeros(20)  # probation: floor(0.15 * 20) = 3 rows
    a[[1, 5, 9, 10, 14]] = [0.9, 0.6, 0.8, 0.95, 0.7]  # row 1 is probationary: ignored
    b = np.full(20, 0.1)
    b[[4, 8, 11]] = [0.3, 0.3, 0.5]
    # B's first window (rows 0-1) lies inside probation: never a hit nor a miss, but it counts as perfect
    return [NabFile("catA/a.csv", a, [(8, 11)]), NabFile("catB/b.csv", b, [(0, 1), (10, 12)])]


def total(files: list[NabFile], t: float, profile: str) -> float:
    return sum(file_score(f, t, COSTS[profile])[0] for f in files)


def test_nab_constants() -> None:
    assert COSTS["standard"] == {"tp": 1.0, "fp": 0.11, "fn": 1.0}
    assert COSTS["reward_low_FP_rate"] == {"tp": 1.0, "fp": 0.22, "fn": 1.0}
    assert COSTS["reward_low_FN_rate"] == {"tp": 1.0, "fp": 0.11, "fn": 2.0}
    assert probation_length(20) == 3 and probation_length(4032) == 604 and probation_length(22695) == 750
    assert scaled_sigmoid(-1.0) == pytest.approx(0.986614, abs=1e-6)
    assert scaled_sigmoid(0.0) == 0.0 and scaled_sigmoid(3.5) == -1.0


@pytest.mark.parametrize(("profile", "fp", "fn"), [("standard", 0.11, 1.0), ("reward_low_FP_rate", 0.22, 1.0),
                                                   ("reward_low_FN_rate", 0.11, 2.0)])
def test_hand_computed_case(profile: str, fp: float, fn: float) -> None:
    files = hand_files()
    expected = {
        math.inf: -2 * fn,  # two scored windows missed
        0.95: A_ROW10 - fn,
        0.8: A_ROW9 - fn,  # earliest detection per window only
        0.7: A_ROW9 - fn + fp * A_ROW14,  # FP weighted relative to the preceding window
        0.6: A_ROW9 - fn + fp * A_ROW14 - fp,  # FP before any window: -fp
        0.5: A_ROW9 + fp * A_ROW14 - fp + B_ROW11,
        0.3: A_ROW9 + fp * A_ROW14 - fp + B_ROW11 + fp * B_ROW4 - fp,
    }
    s = sweep(files, profile)
    by_t = dict(zip(s.thresholds.tolist(), s.raw.tolist(), strict=True))
    for t, raw in expected.items():
        assert by_t[t] == pytest.approx(raw, abs=2e-6), t
        assert total(files, t, profile) == pytest.approx(raw, abs=2e-6), t
    assert 0.9 not in by_t  # the probationary score is no candidate
    assert s.null == -2 * fn and s.perfect == 3.0  # null: the scored windows missed; perfect: every window
    best = corpus_score(files, profile)
    assert best["threshold"] == 0.5 and best["tp"] == 2 and best["fn"] == 0 and best["fp"] == 2
    assert best["windows"] == 3
    assert best["score"] == pytest.approx(round(100 * (expected[0.5] + 2 * fn) / (3 + 2 * fn), 2))
    frozen = corpus_score(files, profile, threshold=0.75)  # detections: score >= 0.75
    assert frozen["raw"] == pytest.approx(round(expected[0.8], 3)) and frozen["threshold"] == 0.75
    assert corpus_score(files, profile, threshold=2.0)["score"] == 0.0  # the null detector scores 0


def test_hand_normalized_values() -> None:
    files = hand_files()
    assert corpus_score(files, "standard")["score"] == 73.84
    assert corpus_score(files, "reward_low_FP_rate")["score"] == 69.47
    assert corpus_score(files, "reward_low_FN_rate")["score"] == 81.32


def test_no_detection_and_ties_take_the_highest_threshold() -> None:
    only_fp = NabFile("c/x.csv", np.r_[np.full(10, np.nan), 0.9, 0.8, np.full(8, np.nan)], [(15, 18)])
    best = corpus_score([only_fp], "standard")
    assert best["threshold"] is None and best["score"] == 0.0 and best["fn"] == 1  # detecting nothing wins
    # 0.7 and 0.6 detect the same window row (0.6 adds a probation row only): equal scores, the higher one wins
    tie = NabFile("c/y.csv", np.r_[0.6, np.zeros(9), 0.7, np.zeros(9)], [(8, 12)])
    assert corpus_score([tie], "standard")["threshold"] == 0.7


def random_file(rng: np.random.Generator, name: str) -> NabFile:
    n = int(rng.integers(5, 400))
    scores = np.round(rng.random(n), 2)  # ties across rows and files
    scores[rng.random(n) < 0.05] = np.nan  # no score yet (warm-up): never a detection
    cuts = np.sort(rng.choice(np.arange(n), size=min(n, 2 * int(rng.integers(0, 4))), replace=False))
    windows = [(int(a), int(b)) for a, b in zip(cuts[::2], cuts[1::2], strict=True) if b > a]
    return NabFile(name, scores, windows)


@pytest.mark.parametrize("seed", range(8))
def test_sweep_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    files = [random_file(rng, f"c{k % 3}/f{k}.csv") for k in range(int(rng.integers(1, 5)))]
    candidates = np.unique(np.concatenate([f.scores[f.probation :] for f in files]))
    candidates = candidates[~np.isnan(candidates)]
    for profile in COSTS:
        s = sweep(files, profile)
        assert s.thresholds[0] == math.inf and np.all(np.diff(s.thresholds) < 0)
        assert np.array_equal(np.sort(s.thresholds[1:]), candidates)  # every distinct scored value
        for t, raw, tp in zip(s.thresholds, s.raw, s.tp, strict=True):
            brute = [file_score(f, float(t), COSTS[profile]) for f in files]
            assert raw == pytest.approx(sum(r for r, _ in brute), abs=1e-9)
            assert tp == sum(c["tp"] for _, c in brute)
        for t in rng.random(5):  # between candidates
            assert s.at(float(t))[0] == pytest.approx(total(files, float(t), profile), abs=1e-9)
        best = float(np.max([total(files, float(t), profile) for t in s.thresholds]))
        assert float(s.raw[s.best_index()]) == pytest.approx(best, abs=1e-9)


def test_sweep_is_fast() -> None:
    import time

    rng = np.random.default_rng(0)
    files = [NabFile(f"c/f{k}.csv", rng.random(4500), [(1000, 1400), (3000, 3400)]) for k in range(31)]
    start = time.perf_counter()
    s = sweep(files, "standard")
    assert s.thresholds.size > 100_000
    assert time.perf_counter() - start < 5.0
