"""The per-model part of each decision, built column by column from the fan-out's answers."""

from __future__ import annotations

import numpy as np

from graph.table import ScoreTable
from models.base import ModelScores
from tools.results import ToolResult


def test_each_row_gets_its_own_rounded_detail_only_where_the_model_answered() -> None:
    forecaster = ToolResult(name="arima", version="v3", family="forecaster", status="ok", latency_ms=1.23456,
                            scores=ModelScores(raw=np.array([0.5, np.nan, 2.0]), score=np.array([0.1, np.nan, 0.9]),
                                               ready=np.array([True, False, True]),
                                               extras={"forecast_u": np.array([0.01234567891, np.nan, -0.5]),
                                                       "sigma_u": np.array([0.003, np.nan, 0.0041234567])}))
    failed = ToolResult(name="lof", version="v1", family="detector", status="failed", error="boom")
    rows = ScoreTable.build({"arima": forecaster, "lof": failed}, 3).entries()

    assert [len(r) for r in rows] == [2, 2, 2]
    first, warming, last = (r[0] for r in rows)
    assert first["detail"] == {"forecast_u": 0.012346, "sigma_u": 0.003} and first["score"] == 0.1
    assert last["detail"] == {"forecast_u": -0.5, "sigma_u": 0.004123} and last["raw"] == 2.0
    assert warming["status"] == "warming_up" and "detail" not in warming
    assert all(r[1]["status"] == "failed" and r[1]["error"] == "boom" and "detail" not in r[1] for r in rows)
    assert first["latency_ms"] == 1.235 and first["version"] == "v3"
