"""Causal calibration on real clean streams: NAB's artificialNoAnomaly files (no anomaly, so every point at or
above 0.998 is a false alarm) stay at or below twice the nominal 0.2% once 15% of each stream has been seen,
with the prior fitted on another file; the flat line never comes near an alarm."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.calibration import EcdfCalibrator
from models.detectors.context_novelty import ContextNoveltyModel
from models.detectors.novel_level import NovelLevelModel
from models.detectors.range_scaled import RangeScaledDetector
from models.online_rank import OnlineRank

NOMINAL = 0.002
TAIL = 1.0 - NOMINAL
CLEAN = ["art_daily_no_noise", "art_daily_perfect_square_wave", "art_daily_small_noise", "art_flatline", "art_noisy"]
PRIOR_FILE = "realKnownCause/ambient_temperature_system_failure.csv"


def _values(root: Path, rel: str) -> np.ndarray:
    return pd.read_csv(root / "nab" / "data" / rel)["value"].to_numpy(dtype=float)


def abs_diff(v: np.ndarray) -> np.ndarray:
    return np.abs(np.diff(v, prepend=v[0]))


def _detector(cls: type[RangeScaledDetector]) -> Callable[[np.ndarray], np.ndarray]:
    def raw(v: np.ndarray) -> np.ndarray:
        m = cls()
        local = dict(m.params)
        return m.run(local, m.initial_state(local), v, np.arange(v.size, dtype=float))[0]
    return raw


SCORES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "abs_diff": abs_diff, "context_novelty": _detector(ContextNoveltyModel), "novel_level": _detector(NovelLevelModel)}


@pytest.fixture(scope="module")
def clean(shared_data: Path) -> dict[str, np.ndarray]:
    return {name: _values(shared_data, f"artificialNoAnomaly/{name}.csv") for name in CLEAN}


@pytest.mark.parametrize("score", list(SCORES))
def test_clean_streams_false_alarm_share_is_at_most_twice_nominal(score: str, clean: dict[str, np.ndarray],
                                                                   shared_data: Path) -> None:
    fn = SCORES[score]
    prior_raw = fn(_values(shared_data, PRIOR_FILE))
    prior = EcdfCalibrator.fit(prior_raw[1:])
    shares = {}
    for name, v in clean.items():
        ranks = OnlineRank().rank_and_add(prior.transform_mid(fn(v)))
        late = ranks[int(0.15 * v.size):]
        shares[name] = float(np.mean(late >= TAIL))
        if name == "art_flatline":
            assert ranks.max() < 0.99, (score, ranks.max())  # constant: ties at mid-rank, never near an alarm
    assert all(s <= 2 * NOMINAL for s in shares.values()), (score, shares)
    if score == "abs_diff":
        # a continuous score on the two noisy streams is (nearly) exchangeable: the share is near nominal, not
        # just below it. The sparse detectors (context_novelty, novel_level) emit 0 on almost every point of a
        # clean stream, so for them only the upper bound above is meaningful.
        for name in ("art_daily_small_noise", "art_noisy"):
            assert shares[name] >= NOMINAL / 2, (name, shares[name])
