"""EcdfCalibrator.transform_mid: the mid-rank ECDF, the prior of causal calibration. Equal to transform where
the reference has no ties; in the middle of a value's mass where it has many (a sparse detector's 0)."""

from __future__ import annotations

import numpy as np

from models.calibration import EcdfCalibrator


def test_equals_transform_on_distinct_values() -> None:
    rng = np.random.default_rng(0)
    cal = EcdfCalibrator.fit(rng.standard_normal(4000))
    xs = np.concatenate([rng.standard_normal(500) * 2, cal.knots[1:-1] + 1e-9, [cal.knots[-1] + 5, -10.0]])
    np.testing.assert_allclose(cal.transform_mid(xs), cal.transform(xs), atol=1e-9)


def test_a_reference_of_95_percent_zeros_puts_zero_in_the_middle_of_its_mass() -> None:
    rng = np.random.default_rng(1)
    ref = np.concatenate([np.zeros(9500), rng.uniform(0.1, 1.0, 500)])
    cal = EcdfCalibrator.fit(ref)
    top = float(cal.transform(np.array([0.0, 0.0]))[0])
    mid = float(cal.transform_mid(np.array([0.0, 0.0]))[0])
    assert abs(top - 0.95) < 0.01
    assert abs(mid - 0.475) < 0.01
    # a positive value above the zeros is unaffected
    x = np.array([0.5, 0.9])
    np.testing.assert_allclose(cal.transform_mid(x), cal.transform(x), atol=1e-9)


def test_single_values_nan_and_order() -> None:
    cal = EcdfCalibrator.fit(np.concatenate([np.zeros(90), np.arange(1.0, 11.0)]))
    one = cal.transform_mid(np.array([0.0]))
    assert one.shape == (1,) and 0.0 < one[0] < float(cal.transform(np.array([0.0]))[0])
    xs = np.array([-1.0, 0.0, 0.5, 3.0, 10.0, 100.0])
    out = cal.transform_mid(xs)
    assert np.all(np.diff(out) > 0) and out[0] == 0.0 and out[-1] < 1.0
    assert np.isfinite(cal.transform_mid(np.array([np.nan, 1.0]))).all()
