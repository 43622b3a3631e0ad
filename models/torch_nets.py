"""Small torch networks (LSTM autoencoder, LSTM forecaster) and the shared training loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _torch() -> Any:
    import torch

    return torch


def build_autoencoder(hidden: int) -> Any:
    torch = _torch()
    nn = torch.nn

    class LstmAutoencoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = nn.LSTM(1, hidden, batch_first=True)
            self.dec = nn.LSTM(hidden, hidden, batch_first=True)
            self.out = nn.Linear(hidden, 1)

        def forward(self, x: Any) -> Any:
            _, (h, _) = self.enc(x.unsqueeze(-1))
            z = h[-1].unsqueeze(1).expand(-1, x.shape[1], -1)
            y, _ = self.dec(z)
            return self.out(y).squeeze(-1)

    return LstmAutoencoder()


def build_forecaster(hidden: int) -> Any:
    torch = _torch()
    nn = torch.nn

    class LstmForecaster(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(1, hidden, batch_first=True)
            self.head = nn.Linear(hidden, 1)

        def forward(self, x: Any) -> Any:
            y, _ = self.lstm(x.unsqueeze(-1))
            return self.head(y[:, -1, :]).squeeze(-1) + x[:, -1]  # predicts the change from the last value

    return LstmForecaster()


def train(
    net: Any,
    inputs: np.ndarray,
    targets: np.ndarray,
    *,
    epochs: int,
    lr: float = 3e-3,
    batch_size: int = 256,
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
) -> list[float]:
    """Adam on mean squared error; returns the loss of each epoch."""
    torch = _torch()
    torch.manual_seed(seed)
    x = torch.as_tensor(inputs, dtype=torch.float32)
    y = torch.as_tensor(targets, dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    net.train()
    for epoch in range(epochs):
        perm = torch.randperm(x.shape[0], generator=gen)
        total = 0.0
        for start in range(0, x.shape[0], batch_size):
            idx = perm[start : start + batch_size]
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(x[idx]), y[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / max(x.shape[0], 1))
        if progress:
            progress(epoch)
    net.eval()
    return losses


def predict(net: Any, inputs: np.ndarray) -> np.ndarray:
    torch = _torch()
    with torch.inference_mode():
        return net(torch.as_tensor(np.ascontiguousarray(inputs), dtype=torch.float32)).numpy().astype(float)
