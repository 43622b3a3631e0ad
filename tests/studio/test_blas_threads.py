"""BLAS threads while a studio runs: one (an idle OpenBLAS helper thread spins and took ~80 ms of CPU per
1,000-event batch on 2 cores), the libraries' own count back when it stops; 0 leaves them alone."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info


def blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


@pytest.mark.parametrize("limit", [1, 0])
async def test_start_limits_and_stop_restores_blas_threads(settings, limit: int) -> None:  # type: ignore[no-untyped-def]
    from studio.bootstrap import build_studio, start, stop

    st = build_studio(settings.model_copy(update={"blas_threads": limit}), train=False)
    before = blas_threads()
    assert before, "numpy's OpenBLAS is loaded once the lineup is"
    await start(st)
    try:
        assert blas_threads() == ([limit] * len(before) if limit else before)
    finally:
        await stop(st)
    assert blas_threads() == before
