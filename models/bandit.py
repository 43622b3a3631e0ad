"""Contextual-bandit router: disjoint LinUCB over arms (which models to trust), epsilon-bounded exploration,
logged propensities, online updates from rewards, and offline policy evaluation (IPS / SNIPS)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

CONTEXT = ("bias", "volatility", "novelty", "forecast_error", "drift", "tod_sin", "tod_cos")


@dataclass
class Choice:
    arm: str
    propensity: float
    explored: bool
    ucb: dict[str, float]
    context: list[float]


def regime_context(*, volatility: float, novelty: float, forecast_error: float, drift: float,
                   ts: float | None) -> np.ndarray:
    """The router's context: bounded regime features (each roughly in [-1, 1]) plus a bias term."""
    hour = ((ts or 0.0) % 86400) / 3600.0
    return np.array([
        1.0, math.tanh(volatility), float(np.clip(novelty, 0, 1)), math.tanh(forecast_error / 3.0),
        math.tanh(drift), math.sin(2 * math.pi * hour / 24), math.cos(2 * math.pi * hour / 24),
    ])


def context_matrix(*, X: np.ndarray, feature_names: list[str], peg_scaled: bool, ts: np.ndarray | None,
                   novelty: np.ndarray, forecast_error: np.ndarray) -> np.ndarray:
    """regime_context() for many rows (the decision graph and the offline warm start use the same features)."""
    n = X.shape[0]
    scale = 100.0 if peg_scaled else 1.0
    vol = X[:, feature_names.index("roll_std")] * scale if "roll_std" in feature_names else np.zeros(n)
    level = "roll_mean" if "roll_mean" in feature_names else ("level" if "level" in feature_names else None)
    drift = np.abs(X[:, feature_names.index(level)]) * scale if level else np.zeros(n)
    hour = ((ts if ts is not None else np.zeros(n)) % 86400) / 3600.0
    return np.column_stack([np.ones(n), np.tanh(vol), np.clip(novelty, 0, 1), np.tanh(forecast_error / 3.0),
                            np.tanh(drift), np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24)])


def reward(score: float, outcome: float) -> float:
    """1 for a confident correct score, 0 for a confident wrong one (1 - absolute error)."""
    return 1.0 - abs(float(score) - float(outcome))


class RouterState:
    """LinUCB parameters per arm. A_a = I + sum x x^T, b_a = sum r x; theta_a = A_a^-1 b_a."""

    name: ClassVar[str] = "router"
    family: ClassVar[str] = "router"
    artifact_format: ClassVar[str] = "json"

    def __init__(self, arms: list[str], *, alpha: float = 0.5, epsilon: float = 0.05, dim: int = len(CONTEXT),
                 A: dict[str, Any] | None = None, b: dict[str, Any] | None = None, updates: int = 0,
                 base: str | None = None) -> None:
        self.arms = list(arms)
        self.base = base  # the registry version this state started from
        self.alpha = alpha
        self.epsilon = epsilon
        self.dim = dim
        self.A = {a: np.asarray(A[a], dtype=float) if A else np.eye(dim) for a in self.arms}
        self.b = {a: np.asarray(b[a], dtype=float) if b else np.zeros(dim) for a in self.arms}
        self.updates = updates
        self.metrics_: dict[str, Any] = {}
        self._refresh()

    def _refresh(self) -> None:
        self._inv = {a: np.linalg.inv(self.A[a]) for a in self.arms}
        self._theta = {a: self._inv[a] @ self.b[a] for a in self.arms}

    # -- acting ---------------------------------------------------------------------------------------
    def weights(self) -> dict[str, list[float]]:
        """Each arm's ridge-regression weights over the context features (rounded, for people)."""
        return {a: [round(float(v), 5) for v in self._theta[a]] for a in self.arms}

    def ucb(self, x: np.ndarray) -> dict[str, float]:
        return {a: float(self._theta[a] @ x + self.alpha * math.sqrt(max(float(x @ self._inv[a] @ x), 0.0)))
                for a in self.arms}

    def greedy(self, x: np.ndarray, available: list[str] | None = None) -> str:
        scores = self.ucb(x)
        pool = [a for a in self.arms if available is None or a in available] or self.arms
        return max(pool, key=lambda a: (scores[a], -pool.index(a)))

    def ucb_matrix(self, X: np.ndarray) -> np.ndarray:
        """UCB of every arm (columns) for every context row."""
        cols = []
        for a in self.arms:
            width = np.einsum("ij,jk,ik->i", X, self._inv[a], X)
            cols.append(X @ self._theta[a] + self.alpha * np.sqrt(np.maximum(width, 0.0)))
        return np.column_stack(cols)

    def choose(self, x: np.ndarray, rng: np.random.Generator, *, explore: bool,
               available: list[str] | None = None) -> Choice:
        """Epsilon-greedy over the UCB ranking; the propensity is the probability of the arm taken."""
        avail = np.array([[available is None or a in available for a in self.arms]])
        return self.choose_many(x[None, :], rng, np.array([explore]), avail)[0]

    def choose_many(self, X: np.ndarray, rng: np.random.Generator, explore: np.ndarray,
                    available: np.ndarray) -> list[Choice]:
        """choose() for many contexts at once (one row each); `available` is rows x arms."""
        n = X.shape[0]
        available = np.where(available.any(axis=1, keepdims=True), available, True)
        U = self.ucb_matrix(X)
        best = np.argmax(np.where(available, U, -np.inf), axis=1)
        k_avail = available.sum(axis=1)
        eps = np.where(explore & (k_avail > 1), self.epsilon, 0.0)
        draw = rng.random(n) < eps
        picks = best.copy()
        for i in np.where(draw)[0]:
            picks[i] = rng.choice(np.flatnonzero(available[i]))
        prop = ((1 - eps) * (picks == best) + eps / k_avail).tolist()
        explored = (draw & (picks != best)).tolist()
        ucb_rows, ctx_rows = np.round(U, 4).tolist(), np.round(X, 5).tolist()
        arms = self.arms
        return [Choice(arm=arms[p], propensity=prop[i], explored=explored[i], ucb=dict(zip(arms, ucb_rows[i],
                                                                                              strict=True)),
                       context=ctx_rows[i]) for i, p in enumerate(picks.tolist())]

    def probabilities(self, x: np.ndarray, *, explore: bool = True) -> dict[str, float]:
        best = self.greedy(x)
        eps = self.epsilon if explore else 0.0
        return {a: (1 - eps) * (a == best) + eps / len(self.arms) for a in self.arms}

    # -- learning -------------------------------------------------------------------------------------
    def update(self, arm: str, x: np.ndarray, r: float) -> None:
        self.A[arm] = self.A[arm] + np.outer(x, x)
        self.b[arm] = self.b[arm] + r * x
        self.updates += 1
        self._inv[arm] = np.linalg.inv(self.A[arm])
        self._theta[arm] = self._inv[arm] @ self.b[arm]

    def warm_start(self, contexts: np.ndarray, rewards: dict[str, np.ndarray]) -> None:
        """Offline warm start from replayed history where every arm's reward is known (full information)."""
        for a in self.arms:
            r = rewards[a]
            ok = np.isfinite(r)
            X = contexts[ok]
            self.A[a] = self.A[a] + X.T @ X
            self.b[a] = self.b[a] + X.T @ r[ok]
        self.updates += int(contexts.shape[0])
        self._refresh()

    # -- persistence ----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"arms": self.arms, "alpha": self.alpha, "epsilon": self.epsilon, "dim": self.dim,
                "A": {a: self.A[a].tolist() for a in self.arms}, "b": {a: self.b[a].tolist() for a in self.arms},
                "updates": self.updates, "base": self.base}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RouterState:
        return cls(data["arms"], alpha=data["alpha"], epsilon=data["epsilon"], dim=data["dim"], A=data["A"],
                   b=data["b"], updates=data.get("updates", 0), base=data.get("base"))

    def save(self, directory: Path) -> dict[str, Any]:
        directory.mkdir(parents=True, exist_ok=True)
        return self.to_json()

    @classmethod
    def load(cls, directory: Path, meta: dict[str, Any]) -> RouterState:
        return cls.from_json(meta)


def off_policy_evaluation(logs: list[dict[str, Any]], router: RouterState) -> dict[str, Any]:
    """IPS and self-normalized IPS of the current greedy policy, uniform, and each fixed arm, from logged
    (context, arm, propensity, reward); plus the direct value of each single model where its score was logged."""
    if not logs:
        return {"n": 0}
    X = np.array([lg["context"] for lg in logs], dtype=float)
    arms = [lg["arm"] for lg in logs]
    p = np.array([max(lg["propensity"], 1e-6) for lg in logs])
    r = np.array([lg["reward"] for lg in logs], dtype=float)
    k = len(router.arms)

    def ips(target: np.ndarray) -> dict[str, float]:  # target[i] = pi(a_i | x_i)
        w = target / p
        return {"ips": round(float(np.mean(w * r)), 4),
                "snips": round(float(np.sum(w * r) / np.sum(w)), 4) if np.sum(w) > 0 else float("nan"),
                "matched": int(np.sum(target > 0))}

    current = np.array([1.0 if router.greedy(x) == a else 0.0 for x, a in zip(X, arms, strict=True)])
    out: dict[str, Any] = {"n": len(logs), "logged_mean_reward": round(float(r.mean()), 4),
                           "current_policy": ips(current), "uniform": ips(np.full(len(logs), 1.0 / k)),
                           "fixed_arms": {a: ips(np.array([1.0 if x == a else 0.0 for x in arms])) for a in router.arms}}
    singles: dict[str, list[float]] = {}
    for lg in logs:
        for model, score in (lg.get("model_scores") or {}).items():
            singles.setdefault(model, []).append(reward(score, lg["outcome"]))
    if singles:
        values = {m: round(float(np.mean(v)), 4) for m, v in singles.items() if len(v) >= max(1, len(logs) // 2)}
        out["single_models_direct"] = values
        if values:
            best = max(values, key=lambda m: values[m])
            out["best_single_model"] = {"model": best, "value": values[best]}
    return out
