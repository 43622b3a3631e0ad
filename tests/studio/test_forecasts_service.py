"""studio/forecasts.py, the one forecasting path of the API, the chat and the CLI: a stream's window is copied
between decision batches, given points are checked against the profile's physical bounds, a tabular profile is
refused, and every path ends in the same ForecastService call."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from core.errors import Conflict, ValidationFailed
from core.profiles import load_profiles
from models.forecasting import History
from studio import PROJECT_ROOT
from studio.forecasts import Forecasts, forecast_points

PROFILES = load_profiles(PROJECT_ROOT / "profiles")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, History, int, Any]] = []

    def forecast(self, profile: Any, bundle: Any, history: History, horizon: int, models: Any = None) -> dict[str, Any]:
        self.calls.append((profile.name, history, horizon, models))
        return {"ensemble": {}, "history_points": int(history.values.size)}


def service(state: Any) -> tuple[Forecasts, Recorder, list[str]]:
    rec, seen = Recorder(), []

    async def between_batches(fn: Any) -> Any:
        seen.append("between_batches")
        return fn()

    streams = SimpleNamespace(get_many=lambda names: {n: state for n in names})
    runtimes = {name: SimpleNamespace(profile=p, bundle=object(), streams=streams if p.is_stream else None)
                for name, p in PROFILES.items()}
    return Forecasts(runtimes, between_batches, rec), rec, seen  # type: ignore[arg-type]


async def test_a_stream_window_is_copied_between_batches_and_forecast() -> None:
    state = SimpleNamespace(n_seen=50, ts=np.arange(50.0) * 3600, values=np.linspace(1.0, 2.0, 50))
    forecasts, rec, seen = service(state)
    out = await forecasts.of_stream(PROFILES["ops"], "cpu-1", 12)
    assert seen == ["between_batches"] and out["history_points"] == 50
    (name, history, horizon, models), = rec.calls
    assert (name, horizon, models) == ("ops", 12, None)
    assert history.values is not state.values and np.array_equal(history.values, state.values)  # a copy


async def test_an_unseen_stream_is_a_conflict() -> None:
    forecasts, _, _ = service(None)
    with pytest.raises(Conflict):
        await forecasts.of_stream(PROFILES["ops"], "nobody", 12)


async def test_points_outside_the_physical_bounds_are_refused_before_forecasting() -> None:
    forecasts, rec, _ = service(None)
    ts = np.arange(40.0) * 3600
    with pytest.raises(ValidationFailed):
        await forecasts.of_points(PROFILES["peg"], ts, np.full(40, -1.0), 6)  # a price below zero
    assert rec.calls == []
    out = await forecasts.of_points(PROFILES["peg"], ts, np.full(40, 1.0), 6, ["ets"])
    assert out["history_points"] == 40 and rec.calls[0][3] == ["ets"]


async def test_a_tabular_profile_has_nothing_to_forecast() -> None:
    forecasts, _, _ = service(None)
    with pytest.raises(ValidationFailed, match="tabular"):
        await forecasts.of_points(PROFILES["credit"], np.arange(40.0), np.ones(40), 6)


def test_the_cli_path_checks_the_same_bounds() -> None:
    rec = Recorder()
    with pytest.raises(ValidationFailed):
        forecast_points(rec, PROFILES["peg"], object(), np.arange(40.0), np.full(40, -1.0), 6)  # type: ignore[arg-type]
