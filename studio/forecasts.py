"""Forecasting, in one place: `POST /v1/forecasts`, the chat's `forecast_stream` tool and `studio forecast` all
ask this service for a forecast of a stream's stored window or of given points. The forecasting itself, with
its cache, is models/forecasting.py's ForecastService."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import numpy as np

from core.errors import ValidationFailed
from core.events import check_physical_limits
from core.profiles import Profile, get_profile
from models.bundle import ModelBundle
from models.forecasting import ForecastService, History, history_from_points, history_from_stream
from runtime.profile_runtime import ProfileRuntime

T = TypeVar("T")


def points_history(profile: Profile, ts: np.ndarray, values: np.ndarray) -> History:
    """Given points as a history, within the profile's physical bounds (as an event's value is: 422)."""
    check_physical_limits(profile, np.asarray(values, dtype=float).tolist(), [])
    return history_from_points(ts, values)


def forecast_points(service: ForecastService, profile: Profile, bundle: ModelBundle, ts: np.ndarray,
                    values: np.ndarray, horizon: int, models: list[str] | None = None) -> dict[str, Any]:
    """A forecast of given points, synchronously (the CLI, which has no running service)."""
    return service.forecast(profile, bundle, points_history(profile, ts, values), horizon, models)


class Forecasts:
    """Forecasts for the running service: a stream's window is copied between decision batches (stream states
    change only there), the forecast runs in a worker thread."""

    def __init__(self, runtimes: dict[str, ProfileRuntime],
                 between_batches: Callable[[Callable[[], History]], Awaitable[History]],
                 service: ForecastService | None = None, *, profiles: dict[str, Profile] | None = None) -> None:
        self.runtimes = runtimes
        self.profiles = profiles if profiles is not None else {}
        self.between_batches = between_batches
        self.service = service or ForecastService()

    async def forecast(self, profile_name: str, *, stream: str | None, horizon: int, models: list[str] | None = None,
                       points: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
        """POST /v1/forecasts: of the given points (timestamps, values) if any, else of the stream's window."""
        profile = get_profile(self.profiles, profile_name)
        if points is not None:
            out = await self.of_points(profile, points[0], points[1], horizon, models)
        else:
            if not stream and profile.is_stream:
                raise ValidationFailed("give `stream` or `history`")
            out = await self.of_stream(profile, stream or "", horizon, models)
        out["stream"] = stream
        return out

    async def of_named_stream(self, profile: str, stream: str, horizon: int) -> dict[str, Any] | None:
        """The chat's forecast_stream tool: None when the profile is not served here or has no streams."""
        rt = self.runtimes.get(profile)
        if rt is None or rt.streams is None:
            return None
        return await self.of_stream(rt.profile, stream, horizon)

    def _runtime(self, profile: Profile) -> ProfileRuntime:
        if not profile.is_stream:
            raise ValidationFailed(f"profile {profile.name!r} is tabular: nothing to forecast")
        return self.runtimes[profile.name]

    async def of_stream(self, profile: Profile, stream: str, horizon: int,
                        models: list[str] | None = None) -> dict[str, Any]:
        rt = self._runtime(profile)
        streams = rt.streams
        assert streams is not None
        history = await self.between_batches(lambda: history_from_stream(streams.get_many([stream])[stream]))
        return await self._run(rt, history, horizon, models)

    async def of_points(self, profile: Profile, ts: np.ndarray, values: np.ndarray, horizon: int,
                        models: list[str] | None = None) -> dict[str, Any]:
        rt = self._runtime(profile)
        return await self._run(rt, points_history(profile, ts, values), horizon, models)

    async def _run(self, rt: ProfileRuntime, history: History, horizon: int,
                   models: list[str] | None) -> dict[str, Any]:
        out = await asyncio.to_thread(self.service.forecast, rt.profile, rt.bundle, history, horizon, models)
        return dict(out)
