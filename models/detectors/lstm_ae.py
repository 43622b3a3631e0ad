"""LSTM autoencoder detector (torch): reconstruction error of a stream's recent normalized window."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models import torch_nets
from models.base import Detector, ScoringBatch, TrainingSet
from models.serialization import load_tensors, save_tensors


class LstmAutoencoderModel(Detector):
    name: ClassVar[str] = "lstm_ae"
    artifact_format: ClassVar[str] = "safetensors"
    stream_only: ClassVar[bool] = True
    calibrate_per_stream: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.net_: Any = None
        self.scale_ = 1.0

    def _check(self, data: TrainingSet) -> None:
        if data.windows is None or data.windows.shape[0] < 50:
            raise ValueError("lstm_ae: needs at least 50 training windows")

    def _fit(self, data: TrainingSet) -> np.ndarray:
        assert data.windows is not None
        rng = np.random.default_rng(int(self.params.get("seed", 7)))
        w = data.windows
        self.scale_ = 1.0 / max(float(np.std(w)), 1e-9)
        idx = rng.permutation(w.shape[0])
        held = idx[: max(w.shape[0] // 5, 1)]
        train_idx = idx[max(w.shape[0] // 5, 1) :][: int(self.params.get("max_windows", 4000))]
        self.net_ = torch_nets.build_autoencoder(int(self.params.get("hidden", 16)), seed=int(self.params.get("seed", 7)))
        x = np.clip(w[train_idx] * self.scale_, -20, 20)
        self.losses_ = torch_nets.train(self.net_, x, x, epochs=int(self.params.get("epochs", 5)))
        self.infer_ = torch_nets.NumpyAutoencoder(self.net_.state_dict(), self.net_)
        return self._raw(w[held])

    def _raw(self, windows: np.ndarray) -> np.ndarray:
        x = np.clip(windows * self.scale_, -20, 20)
        err = (self.infer_(x) - x) ** 2
        return 0.5 * err.mean(axis=1) + 0.5 * err[:, -1]

    def raw_score(self, batch: ScoringBatch) -> np.ndarray:
        assert batch.windows is not None
        return self._raw(batch.windows)

    def _save(self, directory: Path) -> dict[str, Any]:
        save_tensors(self.net_.state_dict(), directory / "weights.safetensors")
        return {"files": ["weights.safetensors"], "scale": self.scale_}

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        self.scale_ = float(meta["scale"])
        self.net_ = torch_nets.build_autoencoder(int(self.params.get("hidden", 16)))
        self.net_.load_state_dict(load_tensors(directory / "weights.safetensors"))
        self.net_.eval()
        self.infer_ = torch_nets.NumpyAutoencoder(self.net_.state_dict(), self.net_)
