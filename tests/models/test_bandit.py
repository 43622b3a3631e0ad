"""The contextual-bandit router: learns the better arm per regime, honest propensities, OPE that recovers a
known policy's value, bounded exploration, persistence round trip."""

from __future__ import annotations

import numpy as np
import pytest

from models.bandit import RouterState, off_policy_evaluation, reward


def _ctx(regime: int, rng: np.random.Generator) -> np.ndarray:
    x = np.zeros(7)
    x[0] = 1.0
    x[2] = 0.9 if regime else 0.1  # "novelty" separates the regimes
    x[1] = rng.normal(0, 0.05)
    return x


def test_learns_the_better_arm_in_each_of_two_regimes() -> None:
    rng = np.random.default_rng(0)
    router = RouterState(["detectors", "classifiers"], alpha=0.3, epsilon=0.1)
    p_good = {("detectors", 1): 0.9, ("detectors", 0): 0.2, ("classifiers", 1): 0.2, ("classifiers", 0): 0.9}
    for _ in range(1500):
        regime = int(rng.integers(2))
        x = _ctx(regime, rng)
        c = router.choose(x, rng, explore=True)
        router.update(c.arm, x, float(rng.random() < p_good[(c.arm, regime)]))
    picks = {r: [router.greedy(_ctx(r, rng)) for _ in range(200)] for r in (0, 1)}
    assert np.mean([p == "classifiers" for p in picks[0]]) > 0.95
    assert np.mean([p == "detectors" for p in picks[1]]) > 0.95


def test_propensities_sum_to_one_and_match_choices() -> None:
    rng = np.random.default_rng(1)
    router = RouterState(["a", "b", "c"], epsilon=0.2)
    x = _ctx(1, rng)
    probs = router.probabilities(x)
    assert abs(sum(probs.values()) - 1.0) < 1e-12
    greedy = router.greedy(x)
    assert probs[greedy] == pytest.approx(0.8 + 0.2 / 3)
    choices = [router.choose(x, rng, explore=True) for _ in range(3000)]
    for c in choices:
        assert c.propensity == pytest.approx(probs[c.arm])
    freq = np.mean([c.arm == greedy for c in choices])
    assert abs(freq - probs[greedy]) < 0.03
    # exploration off (what the governor asks when severity is high): deterministic, propensity 1
    off = [router.choose(x, rng, explore=False) for _ in range(50)]
    assert all(c.arm == greedy and c.propensity == 1.0 and not c.explored for c in off)


def test_ope_recovers_the_value_of_a_known_policy() -> None:
    """Logs from a uniform policy; IPS/SNIPS of 'always a' must match a's true mean reward (0.8)."""
    rng = np.random.default_rng(2)
    router = RouterState(["a", "b"], epsilon=0.0)
    means = {"a": 0.8, "b": 0.3}
    logs = []
    for _ in range(8000):
        x = _ctx(int(rng.integers(2)), rng)
        arm = ["a", "b"][int(rng.integers(2))]
        logs.append({"context": x.tolist(), "arm": arm, "propensity": 0.5, "reward": float(rng.random() < means[arm]),
                     "outcome": 1.0, "model_scores": {}})
    report = off_policy_evaluation(logs, router)
    assert report["fixed_arms"]["a"]["ips"] == pytest.approx(0.8, abs=0.03)
    assert report["fixed_arms"]["a"]["snips"] == pytest.approx(0.8, abs=0.03)
    assert report["fixed_arms"]["b"]["snips"] == pytest.approx(0.3, abs=0.03)
    assert report["uniform"]["ips"] == pytest.approx(0.55, abs=0.03)
    # teach the router that 'a' is better; its greedy policy's value approaches 'a''s
    for lg in logs[:2000]:
        router.update(lg["arm"], np.array(lg["context"]), lg["reward"])
    assert report["n"] == 8000
    assert off_policy_evaluation(logs, router)["current_policy"]["snips"] == pytest.approx(0.8, abs=0.05)


def test_warm_start_and_round_trip() -> None:
    rng = np.random.default_rng(3)
    X = np.array([_ctx(int(r), rng) for r in rng.integers(2, size=400)])
    rewards = {"a": np.where(X[:, 2] > 0.5, 0.9, 0.1), "b": np.where(X[:, 2] > 0.5, 0.1, 0.9)}
    router = RouterState(["a", "b"])
    router.warm_start(X, rewards)
    assert router.greedy(_ctx(1, rng)) == "a" and router.greedy(_ctx(0, rng)) == "b"
    again = RouterState.from_json(router.to_json())
    x = _ctx(1, rng)
    assert again.ucb(x) == pytest.approx(router.ucb(x))
    assert reward(0.9, 1.0) == pytest.approx(0.9) and reward(0.9, 0.0) == pytest.approx(0.1)
