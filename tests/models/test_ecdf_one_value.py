"""The one-value path of EcdfCalibrator (used by every single decision) matches the array path bit for bit."""

from __future__ import annotations

import numpy as np

from models.calibration import EcdfCalibrator


def test_one_value_path_equals_the_array_path_exactly() -> None:
    rng = np.random.default_rng(0)
    for trial in range(60):
        ref = rng.standard_normal(int(rng.integers(5, 3000))) * rng.uniform(0.01, 100)
        if trial % 5 == 0:
            ref = np.round(ref)  # ties give zero-width spans between knots
        cal = EcdfCalibrator.fit(ref)
        xs = np.concatenate([rng.standard_normal(200) * 3 * ref.std(), cal.knots,
                             [np.nan, np.inf, -np.inf, ref.max() * 10, ref.min() - 1]])
        many = cal.transform(xs)
        one = np.array([cal.transform(np.array([x]))[0] for x in xs])
        np.testing.assert_array_equal(one, many)
        assert cal.transform(np.array([[xs[0]]])).shape == (1, 1)
