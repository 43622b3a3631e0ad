"""ScoreTable.row_spread with a floor: calm ranks spread widely but only disagreement in the tail counts."""

import numpy as np

from graph.table import ScoreTable


def table(score: np.ndarray) -> ScoreTable:
    n, m = score.shape
    return ScoreTable(names=[f"m{j}" for j in range(m)], families=["detector"] * m, results=[],
                      score=score, raw=score, ready=np.ones((n, m), dtype=bool), warming=np.zeros((n, m), dtype=bool))


def test_calm_uniform_ranks_disagree_without_a_floor_but_not_with_one() -> None:
    calm = np.array([[0.05, 0.3, 0.5, 0.7, 0.9]])
    t, cols = table(calm), np.ones(5, dtype=bool)
    assert t.row_spread(cols)[0] > 0.35
    assert t.row_spread(cols, floor=0.95)[0] == 0.0


def test_one_model_deep_in_the_tail_is_disagreement_above_the_floor() -> None:
    split = np.array([[0.999, 0.2, 0.3, 0.1, 0.4], [0.999, 0.998, 0.999, 0.997, 0.999]])
    t, cols = table(split), np.ones(5, dtype=bool)
    spread = t.row_spread(cols, floor=0.95)
    assert spread[0] > 0.35 and spread[1] < 0.1
