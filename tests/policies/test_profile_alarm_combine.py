"""Profile validation of the fixed combination, the alarm stage and causal calibration, and the shipped ops
profile that uses all three (with no NAB labels anywhere in what the product reads)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from core.profiles import AlarmSpec, CombineSpec, Profile, load_profile
from studio import PROJECT_ROOT

OPS = PROJECT_ROOT / "profiles" / "ops.yaml"
CREDIT = PROJECT_ROOT / "profiles" / "credit.yaml"


def _raw(path: Any) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def test_combine_members_must_be_in_the_lineup() -> None:
    data = copy.deepcopy(_raw(OPS))
    data["combine"] = {"method": "max", "members": ["context_novelty", "no_such_model"]}
    with pytest.raises(ValueError, match="no_such_model") as err:
        Profile.model_validate(data)
    assert "context_novelty" not in str(err.value).split("lineup:")[-1]
    data["combine"] = {"method": "max", "members": []}
    with pytest.raises(ValidationError):
        Profile.model_validate(data)
    data["combine"] = {"method": "mean", "members": ["novel_level"]}
    with pytest.raises(ValidationError):
        Profile.model_validate(data)


def test_alarm_needs_a_stream_profile() -> None:
    data = copy.deepcopy(_raw(CREDIT))
    assert Profile.model_validate(data).alarm is None
    data["alarm"] = {"threshold": 0.99, "refractory": 10}
    with pytest.raises(ValueError, match="stream profile"):
        Profile.model_validate(data)


def test_alarm_spec_bounds() -> None:
    assert AlarmSpec(threshold=1.0).refractory == 0
    for bad in ({"threshold": 0.0}, {"threshold": 1.01}, {"threshold": 0.9, "refractory": -1}, {}):
        with pytest.raises(ValidationError):
            AlarmSpec(**bad)
    with pytest.raises(ValidationError):
        CombineSpec.model_validate({"members": ["a"], "weights": [1.0]})  # strict: unknown keys are errors


def test_calibration_accepts_causal_and_rejects_unknown_modes() -> None:
    data = copy.deepcopy(_raw(OPS))
    data["features"]["calibration"] = "per_stream"
    features = Profile.model_validate(data).features
    assert features is not None and features.calibration == "per_stream"
    data["features"]["calibration"] = "rolling"
    with pytest.raises(ValidationError):
        Profile.model_validate(data)


def test_shipped_ops_profile_is_causal_max_of_the_two_detectors_with_an_alarm_and_no_labels() -> None:
    ops = load_profile(OPS)
    assert ops.is_stream and ops.features is not None and ops.features.calibration == "causal"
    assert ops.combine is not None and ops.combine.method == "max"
    assert ops.combine.members == ["context_novelty", "novel_level"]
    assert set(ops.combine.members) <= set(ops.models.all())
    assert ops.alarm is not None and 0.0 < ops.alarm.threshold <= 1.0 and ops.alarm.refractory >= 0
    assert ops.router.warm_start_windows is None
    assert ops.label.kind == "none"
    assert "nab/labels" not in OPS.read_text()  # no NAB label file referenced
