"""Causal calibration (models/online_rank.py): each score ranked against its own stream's earlier scores, the
training ECDF as a prior worth `prior_weight` points; false-alarm rates hold on exchangeable streams, whatever
their scale, and the history is causal, bounded and persistable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.calibration import EcdfCalibrator
from models.online_rank import N_BINS, OnlineRank, tail_bins

TAIL = 0.998  # nominal share of points at or above it: 0.002


def _prior(seed: int = 0) -> EcdfCalibrator:
    return EcdfCalibrator.fit(np.random.default_rng(seed).standard_normal(5000))


def _share_at_tail(ranks: np.ndarray) -> float:
    return float(np.mean(ranks >= TAIL))


def test_exchangeable_stream_through_a_prior_fitted_on_another_sample_alarms_at_the_nominal_rate() -> None:
    cal = _prior(seed=1)
    for seed in (2, 3):
        raw = np.random.default_rng(seed).standard_normal(20_000)
        ranks = OnlineRank().rank_and_add(cal.transform_mid(raw))
        share = _share_at_tail(ranks[500:])
        assert 0.001 <= share <= 0.004, (seed, share)
        assert np.all((ranks >= 0.0) & (ranks <= 1.0))


def test_uniform_prior_probabilities_alarm_at_the_nominal_rate() -> None:
    u = np.random.default_rng(4).uniform(size=20_000)
    share = _share_at_tail(OnlineRank().rank_and_add(u)[500:])
    assert 0.001 <= share <= 0.004, share


def test_constant_stream_settles_at_one_half_and_never_reaches_0_99() -> None:
    cal = _prior()
    ranks = OnlineRank().rank_and_add(cal.transform_mid(np.full(3000, 0.3)))
    assert ranks.max() < 0.99
    assert abs(ranks[0] - float(cal.transform_mid(np.array([0.3]))[0])) < 1e-12  # no history yet: the prior
    assert abs(ranks[-1] - 0.5) < 0.01  # the prior (30 points' worth) has faded
    assert np.all(np.diff(ranks) <= 1e-12)  # it only fades towards 0.5


def test_constant_stream_at_the_prior_extreme_is_high_only_on_its_first_point() -> None:
    # The first point of a stream has nothing but the prior; from the second on its own history pulls it down.
    cal = _prior()
    ranks = OnlineRank().rank_and_add(cal.transform_mid(np.full(500, 3.0)))
    assert ranks[0] > 0.99
    assert ranks[1:].max() < 0.99 and abs(ranks[-1] - 0.5) < 0.05


def test_a_value_above_everything_before_ranks_above_0_999_after_2000_points() -> None:
    cal = _prior()
    rng = np.random.default_rng(5)
    hist = OnlineRank()
    hist.rank_and_add(cal.transform_mid(rng.standard_normal(2500)))
    assert hist.n == 2500
    top = hist.rank_and_add(cal.transform_mid(np.array([10.0])))[0]
    assert top > 0.999
    typical = hist.rank_and_add(cal.transform_mid(np.array([0.0])))[0]
    assert 0.4 < typical < 0.6


def test_calibration_adapts_to_a_stream_on_another_scale_than_the_prior() -> None:
    # prior from N(0, 1), stream from N(5, 3): under the prior alone most points would be extreme
    cal = _prior()
    raw = 5.0 + 3.0 * np.random.default_rng(6).standard_normal(20_000)
    prior_only = cal.transform_mid(raw)
    assert np.mean(prior_only >= TAIL) > 0.3
    ranks = OnlineRank().rank_and_add(prior_only)
    share = _share_at_tail(ranks[3000:])
    assert 0.001 <= share <= 0.004, share


@pytest.mark.xfail(strict=True, reason="known limitation: the histogram has 40 bins per decade of the prior's "
                   "log-odds, so a stream whose scores all sit in a narrow slice of the prior (here inside its lowest "
                   "0.5%) shares a few bins, ties at mid-rank and cannot reach its own 0.998 tail")
def test_calibration_adapts_to_a_stream_narrower_than_the_prior() -> None:
    cal = _prior()
    raw = -3.0 + 0.1 * np.random.default_rng(7).standard_normal(20_000)  # all below the prior's 1% quantile
    ranks = OnlineRank().rank_and_add(cal.transform_mid(raw))
    assert _share_at_tail(ranks[3000:]) >= 0.001


def test_ranks_are_causal_later_points_do_not_change_earlier_ranks() -> None:
    cal = _prior()
    raw = np.random.default_rng(8).standard_normal(3000)
    u = cal.transform_mid(raw)
    full = OnlineRank().rank_and_add(u)
    for k in (1, 17, 1000, 2999):
        np.testing.assert_array_equal(OnlineRank().rank_and_add(u[:k]), full[:k])
    hist = OnlineRank()  # point by point, in chunks: the same as one call
    chunks = [hist.rank_and_add(part) for part in np.array_split(u, [1, 5, 700, 701, 2000])]
    np.testing.assert_array_equal(np.concatenate(chunks), full)


def test_json_round_trip_continues_exactly_like_an_uninterrupted_run() -> None:
    cal = _prior()
    u = cal.transform_mid(np.random.default_rng(9).standard_normal(4000))
    whole = OnlineRank().rank_and_add(u)
    first = OnlineRank()
    head = first.rank_and_add(u[:1500])
    saved = json.loads(json.dumps(first.to_json()))
    assert len(saved["bins"]) == len(saved["counts"]) < N_BINS  # sparse: only occupied bins
    tail = OnlineRank.from_json(saved).rank_and_add(u[1500:])
    np.testing.assert_array_equal(np.concatenate([head, tail]), whole)
    assert OnlineRank.from_json(None).n == 0 and OnlineRank.from_json({}).n == 0


def test_json_round_trip_after_halving_stays_within_rounding() -> None:
    # counts are stored to 3 decimals; after repeated halving they are fractional, so a restored history can
    # differ from the live one by at most that rounding
    u = np.random.default_rng(10).uniform(size=3000)
    whole = OnlineRank(max_count=300).rank_and_add(u)
    first = OnlineRank(max_count=300)
    head = first.rank_and_add(u[:1234])
    tail = OnlineRank.from_json(json.loads(json.dumps(first.to_json())), max_count=300).rank_and_add(u[1234:])
    np.testing.assert_allclose(np.concatenate([head, tail]), whole, atol=1e-4)


def test_halving_bounds_the_history_and_keeps_ranks_sensible() -> None:
    cal = _prior()
    rng = np.random.default_rng(11)
    hist = OnlineRank(max_count=200)
    ranks = hist.rank_and_add(cal.transform_mid(rng.standard_normal(20_000)))
    assert hist.n <= 200
    late = ranks[1000:]
    assert abs(float(np.mean(late)) - 0.5) < 0.02
    assert 0.005 <= float(np.mean(late >= 0.99)) <= 0.02
    assert hist.rank_and_add(cal.transform_mid(np.array([10.0])))[0] > 0.99
    # recent behaviour dominates: after a level shift the old scores fade within a few max_counts (what is
    # left above 0.5 is the prior, 30 of every 230 points here, which sees the shifted stream as high)
    shifted = hist.rank_and_add(cal.transform_mid(2.0 + rng.standard_normal(2000)))
    assert float(np.mean(shifted[:50])) > 0.8
    assert float(np.mean(shifted[-500:])) < 0.6


def test_tail_bins_cover_the_tail_and_clip_bad_inputs() -> None:
    bins = tail_bins(np.array([0.0, 0.5, 0.9, 0.999, 1.0, np.nan, -3.0, 7.0]))
    assert bins[0] == 0 and bins[-3] == 0 and bins[-2] == 0  # NaN and below 0 count as 0
    assert bins[4] == bins[-1] >= N_BINS - 2  # 1 and above: the top (clipped at 1 - 1e-8)
    assert bins[1] < bins[2] < bins[3] < bins[4]
    # log-odds, 40 bins per decade, offset by 8 decades: 0.5 -> 320, 0.9 -> log10(9) = 0.954, 0.999 -> 2.9996
    assert bins[1] == 320 and bins[2] == 358 and bins[3] in (439, 440)
