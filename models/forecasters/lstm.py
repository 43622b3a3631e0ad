"""LSTM forecaster (torch): one global network over normalized windows predicts each stream's next value."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models import torch_nets
from models.base import Forecaster, RawScores, ScoringBatch, TrainingSet
from models.serialization import load_tensors, save_tensors


class LstmForecasterModel(Forecaster):
    """Trained once on pooled windows of the profile's streams; a stream needs no fit of its own."""

    name: ClassVar[str] = "lstm_forecaster"
    artifact_format: ClassVar[str] = "safetensors"
    calibrate_per_stream: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.net_: Any = None
        self.scale_ = 1.0
        self.sigma_ = 1.0

    def _check(self, data: TrainingSet) -> None:
        if data.windows is None or data.windows.shape[0] < 50:
            raise ValueError("lstm_forecaster: needs at least 50 training windows")

    def _fit(self, data: TrainingSet) -> np.ndarray:
        assert data.windows is not None
        w = data.windows
        n = w.shape[0]
        order = np.argsort(data.order, kind="stable") if data.order is not None else np.arange(n)
        cut = int(n * 0.8)
        train_idx, held = order[:cut], order[cut:]
        rng = np.random.default_rng(int(self.params.get("seed", 7)))
        train_idx = rng.permutation(train_idx)[: int(self.params.get("max_windows", 6000))]
        self.scale_ = 1.0 / max(float(np.std(w)), 1e-9)
        x = np.clip(w * self.scale_, -20, 20)
        self.net_ = torch_nets.build_forecaster(int(self.params.get("hidden", 16)), seed=int(self.params.get("seed", 7)))
        self.losses_ = torch_nets.train(
            self.net_, x[train_idx, :-1], x[train_idx, -1], epochs=int(self.params.get("epochs", 6))
        )
        self.infer_ = torch_nets.NumpyForecaster(self.net_.state_dict(), self.net_)
        pred = self.infer_(x[held, :-1])
        err = x[held, -1] - pred
        self.sigma_ = max(float(np.std(err)), 1e-6)
        naive = float(np.mean(np.abs(x[train_idx, -1] - x[train_idx, -2])))
        self.metrics_ = {
            "mase": round(float(np.mean(np.abs(err))) / max(naive, 1e-9), 4),
            "held_out_windows": int(held.size),
        }
        return np.abs(err) / self.sigma_

    def _score(self, batch: ScoringBatch) -> RawScores:
        assert batch.windows is not None
        x = np.clip(batch.windows * self.scale_, -20, 20)
        pred = self.infer_(x[:, :-1])
        raw = np.abs(x[:, -1] - pred) / self.sigma_
        extras = {"forecast_u": np.asarray(pred / self.scale_, dtype=float),
                  "sigma_u": np.full(raw.size, self.sigma_ / self.scale_)}
        return raw, np.ones(raw.size, dtype=bool), extras, None

    def forecast_window(self, window_u: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Iterated one-step forecasts from the last seq_len-1 normalized values; sd grows as sqrt(h)."""
        x = list(np.clip(window_u * self.scale_, -20, 20))
        need = len(x)
        out = []
        for _ in range(horizon):
            nxt = float(self.infer_(np.asarray([x[-need:]]))[0])
            out.append(nxt)
            x.append(nxt)
        mean = np.asarray(out) / self.scale_
        sd = self.sigma_ / self.scale_ * np.sqrt(np.arange(1, horizon + 1))
        return mean, sd

    def _save(self, directory: Path) -> dict[str, Any]:
        save_tensors(self.net_.state_dict(), directory / "weights.safetensors")
        return {"files": ["weights.safetensors"], "scale": self.scale_, "sigma": self.sigma_}

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        self.scale_, self.sigma_ = float(meta["scale"]), float(meta["sigma"])
        self.net_ = torch_nets.build_forecaster(int(self.params.get("hidden", 16)))
        self.net_.load_state_dict(load_tensors(directory / "weights.safetensors"))
        self.net_.eval()
        self.infer_ = torch_nets.NumpyForecaster(self.net_.state_dict(), self.net_)
