"""The feature pipeline of a profile as a versioned artifact: feature names, imputation medians, meta inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar


class FeaturePipeline:
    name: ClassVar[str] = "pipeline"
    family: ClassVar[str] = "pipeline"
    artifact_format: ClassVar[str] = "json"

    def __init__(self, feature_names: list[str], medians: dict[str, float], meta_inputs: list[str],
                 base_models: list[str], reference: dict[str, Any] | None = None) -> None:
        self.feature_names = feature_names
        self.medians = medians
        self.meta_inputs = meta_inputs
        self.base_models = base_models
        self.reference = reference  # models/drift_reference.py (None: trained before drift was recorded)
        self.metrics_: dict[str, Any] = {}

    def save(self, directory: Path) -> dict[str, Any]:
        directory.mkdir(parents=True, exist_ok=True)
        return {"feature_names": self.feature_names, "medians": self.medians, "meta_inputs": self.meta_inputs,
                "base_models": self.base_models, "reference": self.reference}

    @classmethod
    def load(cls, directory: Path, meta: dict[str, Any]) -> FeaturePipeline:
        return cls(meta["feature_names"], meta["medians"], meta["meta_inputs"], meta["base_models"],
                   meta.get("reference"))
