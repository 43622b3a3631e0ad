"""GET /v1/streams/{profile}/{stream}: what the service remembers about a stream."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ReadKey, StudioDep
from api.openapi import errors
from api.responses import FastJSONResponse
from core.errors import NotFound, ValidationFailed
from core.profiles import get_profile

router = APIRouter(prefix="/v1/streams", tags=["streams"])


@router.get("/{profile}/{stream}", response_class=FastJSONResponse, responses=errors(404),
            summary="A stream's state and fit")
async def read_stream(profile: str, stream: str, studio: StudioDep, key: ReadKey) -> Any:
    get_profile(studio.profiles, profile)
    rt = studio.runtimes[profile]
    if rt.streams is None:
        raise ValidationFailed(f"profile {profile!r} is tabular: it has no streams")
    streams = rt.streams

    def snapshot() -> dict[str, Any]:  # on the decision loop, between batches
        st = streams.get_many([stream])[stream]
        if st.n_seen == 0:
            raise NotFound(f"stream {profile}/{stream} has not been seen")
        fit = st.fit
        return {
            "profile": profile, "stream": stream, "points_seen": st.n_seen, "version": st.version,
            "last_points": [{"timestamp": t, "value": v} for t, v in zip(st.ts[-5:].tolist(), st.values[-5:].tolist(),
                                                                            strict=True)],
            "warm_up_points": streams.warmup, "fitted": fit is not None,
            "fit": None if fit is None else {"version": fit.version, "mean": fit.mu, "std": fit.sd,
                                             "fitted_at_point": fit.n_at_fit, "step_seconds": fit.step_s,
                                             "season": fit.season, "local_models": sorted(fit.local),
                                             "calibrated_models": sorted(fit.calibrators)},
            "model_states": sorted(st.model_state),
        }

    return FastJSONResponse(await studio.between_batches(snapshot))
