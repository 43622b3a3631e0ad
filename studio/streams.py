"""What the service remembers about a stream: its points, its fit and its models' states, read between decision
batches (stream states change only there)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from core.errors import NotFound, ValidationFailed
from core.profiles import Profile, get_profile
from runtime.profile_runtime import ProfileRuntime


class StreamService:
    def __init__(self, profiles: dict[str, Profile], runtimes: dict[str, ProfileRuntime],
                 between_batches: Callable[[Callable[[], dict[str, Any]]], Awaitable[dict[str, Any]]]) -> None:
        self.profiles = profiles
        self.runtimes = runtimes
        self.between_batches = between_batches

    async def snapshot(self, profile: str, stream: str) -> dict[str, Any]:
        get_profile(self.profiles, profile)
        streams = self.runtimes[profile].streams
        if streams is None:
            raise ValidationFailed(f"profile {profile!r} is tabular: it has no streams")

        def read() -> dict[str, Any]:
            st = streams.get_many([stream])[stream]
            if st.n_seen == 0:
                raise NotFound(f"stream {profile}/{stream} has not been seen")
            fit = st.fit
            return {
                "profile": profile, "stream": stream, "points_seen": st.n_seen, "version": st.version,
                "last_points": [{"timestamp": t, "value": v}
                                for t, v in zip(st.ts[-5:].tolist(), st.values[-5:].tolist(), strict=True)],
                "warm_up_points": streams.warmup, "fitted": fit is not None,
                "fit": None if fit is None else {"version": fit.version, "mean": fit.mu, "std": fit.sd,
                                                 "fitted_at_point": fit.n_at_fit, "step_seconds": fit.step_s,
                                                 "season": fit.season, "local_models": sorted(fit.local),
                                                 "calibrated_models": sorted(fit.calibrators)},
                "model_states": sorted(st.model_state),
            }

        return await self.between_batches(read)
