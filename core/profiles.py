"""Profile schema (one decision use case, described in profiles/<name>.yaml) and its loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import UnknownProfile


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldSpec(_Strict):
    """One numeric input: a tabular feature or a stream's value, with its physical bounds (both required,
    finite, min <= max): an event outside them is refused with 422 before anything is scored or written."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str
    required: bool = True
    min: float
    max: float
    integer: bool = False
    description: str = ""

    @model_validator(mode="after")
    def _bounds(self) -> FieldSpec:
        if self.min > self.max:
            raise ValueError(f"field {self.name!r}: min {self.min} is above max {self.max}")
        return self


class SourceSpec(_Strict):
    """A training file under data/: a stream (timestamp + value columns) or a table."""

    path: str
    stream: str | None = None
    timestamp: str = "timestamp"
    value: str = "value"
    timestamp_unit: Literal["iso", "s"] = "iso"
    filter_column: str | None = None  # keep rows where filter_column == filter_value
    filter_value: str | None = None
    until: str | None = None  # ISO date: drop rows after it


class StreamFeatureSpec(_Strict):
    normalize: Literal["peg", "zscore"] = "zscore"
    peg: float = 1.0
    window: int = Field(24, ge=4, le=512)
    seq_len: int = Field(32, ge=4, le=256)
    names: list[str]
    warmup_points: int = Field(200, ge=10)
    # global: the training ECDF; per_stream: an ECDF of the stream's warm-up; causal: each score ranked against
    # the stream's own earlier scores, the training ECDF as the prior (models/online_rank.py)
    calibration: Literal["global", "per_stream", "causal"] = "per_stream"
    history: int = Field(256, ge=16, le=4096)


class LabelSpec(_Strict):
    """How the incident label is derived: a column of the table, or a rule on future prices."""

    kind: Literal["none", "column", "forward_abs_deviation"] = "none"
    column: str | None = None
    threshold: float | None = None
    horizon: int = 0
    description: str = ""
    validation_from: str | None = None  # ISO date: rows from here on validate (default: the last 20%)


class ModelsSpec(_Strict):
    classifiers: list[str] = []
    detectors: list[str] = []
    forecasters: list[str] = []
    meta: str | None = None
    params: dict[str, dict[str, Any]] = {}

    def all(self) -> list[str]:
        return [*self.classifiers, *self.detectors, *self.forecasters]


class Thresholds(_Strict):
    """Combined-score cut-offs for the governor's actions, quorum, and when to ask the overseer."""

    watch: float = 0.6
    alert: float = 0.85
    critical: float = 0.97
    quorum: float = Field(0.5, ge=0.0, le=1.0)
    overseer_disagreement: float = 0.35
    boundary_margin: float = 0.03
    max_severity_without_hard_rule: int = 9
    exploration_off_severity: int = 6


class RouterSpec(_Strict):
    arms: dict[str, list[str]]  # arm name -> families / model names it trusts ("meta" = stacker)
    alpha: float = 0.5
    epsilon: float = Field(0.05, ge=0.0, le=0.5)
    warm_start_windows: str | None = None  # labelled windows (under data/) for profiles without labels


class ConsensusSpec(_Strict):
    """Agreement of many models: the k-th highest calibrated score among `members`, discounted by `discount`
    decades of tail (1 - score multiplied by 10 ** discount), so that k models at 0.999 count as 0.995."""

    members: list[str] = Field(..., min_length=1)
    k: int = Field(..., ge=1)
    discount: float = Field(0.0, ge=0.0, le=6.0)

    @model_validator(mode="after")
    def _k_fits(self) -> ConsensusSpec:
        if self.k > len(self.members):
            raise ValueError(f"consensus.k = {self.k} is more than its {len(self.members)} members")
        return self


class CombineSpec(_Strict):
    """A fixed combination of calibrated scores: the anomaly score is the max over `members` (models that
    answered) and, when set, the consensus of many models. Without it the router's arm decides which models'
    mean is the score."""

    method: Literal["max"] = "max"
    members: list[str] = Field(..., min_length=1)
    consensus: ConsensusSpec | None = None

    def all_members(self) -> list[str]:
        return [*self.members, *(self.consensus.members if self.consensus else [])]


class AlarmSpec(_Strict):
    """The alarm stage: a row alarms when the anomaly score reaches `threshold` at the start of a run of such
    rows, and more than `refractory` points after the stream's previous alarm."""

    threshold: float = Field(..., gt=0.0, le=1.0)
    refractory: int = Field(0, ge=0, le=100_000)


class Profile(_Strict):
    name: str
    description: str
    kind: Literal["stream", "tabular"]
    value: FieldSpec | None = None
    fields: list[FieldSpec] = []
    context_fields: list[str] = []
    features: StreamFeatureSpec | None = None
    training: list[SourceSpec]
    label: LabelSpec = LabelSpec()
    models: ModelsSpec
    rules: str
    thresholds: Thresholds = Thresholds()
    router: RouterSpec
    combine: CombineSpec | None = None
    alarm: AlarmSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        if self.kind == "stream" and (self.value is None or self.features is None):
            raise ValueError("a stream profile needs `value` and `features`")
        if self.kind == "tabular" and not self.fields:
            raise ValueError("a tabular profile needs `fields`")
        if self.models.meta and self.label.kind == "none":
            raise ValueError("a meta-classifier needs labels")
        if self.combine is not None:
            unknown = [m for m in self.combine.all_members() if m not in self.models.all()]
            if unknown:
                raise ValueError(f"combine.members not in the lineup: {', '.join(unknown)}")
        if self.alarm is not None and self.kind != "stream":
            raise ValueError("the alarm stage needs a stream profile (its refractory period is per stream)")
        return self

    @property
    def is_stream(self) -> bool:
        return self.kind == "stream"

    @property
    def has_labels(self) -> bool:
        return self.label.kind != "none"


def load_profile(path: Path) -> Profile:
    data = yaml.safe_load(path.read_text())
    return Profile.model_validate(data)


def load_profiles(directory: Path) -> dict[str, Profile]:
    """Every profiles/*.yaml, keyed by name."""
    out: dict[str, Profile] = {}
    for path in sorted(directory.glob("*.yaml")):
        profile = load_profile(path)
        out[profile.name] = profile
    return out


def get_profile(profiles: dict[str, Profile], name: str) -> Profile:
    try:
        return profiles[name]
    except KeyError:
        raise UnknownProfile(
            f"unknown profile {name!r}", details={"known_profiles": sorted(profiles)}
        ) from None
