"""The collector's young-generation threshold: raised while a studio runs (a 1,000-event batch allocates ~100,000
objects; at Python's 700 the collector took ~50 ms of each), put back when it stops; 0 leaves Python's alone."""

from __future__ import annotations

import gc

import pytest


@pytest.mark.parametrize("young", [12_345, 0])
async def test_start_sets_and_stop_restores_the_gc_thresholds(settings, young: int) -> None:  # type: ignore[no-untyped-def]
    from studio.bootstrap import build_studio, start, stop

    before = gc.get_threshold()
    st = build_studio(settings.model_copy(update={"gc_young_threshold": young}), train=False)
    await start(st)
    try:
        assert gc.get_threshold() == ((young, 20, 10) if young else before)
    finally:
        await stop(st)
    assert gc.get_threshold() == before
