"""One bad event fails alone: a micro-batch that raises is undone in memory and its requests run again one
by one, so only the bad request fails and its neighbours (other streams, other keys) get their decisions."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from core.events import Event
from runtime.batcher import MicroBatcher
from store.decisions import count_decisions
from store.engine import write_tx
from store.streams import StreamRepository


async def test_a_failing_batch_runs_each_request_alone_so_only_the_bad_one_fails() -> None:
    batches: list[list[str]] = []

    async def run(items: list[str]) -> list[str]:
        batches.append(list(items))
        await asyncio.sleep(0)
        if "poison" in items:
            raise OverflowError("poison")
        return [f"ok:{i}" for i in items]

    b = MicroBatcher(run, max_size=64, max_wait_s=0.01)
    b.start()
    items = [f"r{i}" for i in range(30)]
    items.insert(11, "poison")
    out = await asyncio.gather(*(b.submit([i]) for i in items), return_exceptions=True)
    await b.stop()
    assert len(batches[0]) > 1 and "poison" in batches[0]  # the poison shared a batch with its neighbours
    for item, res in zip(items, out, strict=True):
        if item == "poison":
            assert isinstance(res, OverflowError)
        else:
            assert res == [f"ok:{item}"]  # 30 answers, each to its own caller
    assert b.batches == 30  # the 30 good requests, each run alone after the shared batch failed


def ops_event(stream: str, value: float, i: int = 0) -> Event:
    return Event(
        profile="ops",
        stream=stream,
        ts=1_700_000_000.0 + 60 * i,
        value=value,
        features={},
        context={},
        index=0,
    )


def plant_overflowed_state(studio: Any, stream: str) -> None:
    """The stored state a 1e200 left behind before profiles had bounds: Welford's sum of squares overflowed
    to inf, which the JSON column stores as null. Every later event of that stream raises when it loads."""
    from models.stream_state import StreamState

    spec = studio.runtimes["ops"].profile.features
    st = StreamState("ops", stream, spec)
    with np.errstate(over="ignore"):
        st.append(np.array([1.7e9, 1.7e9 + 60]), np.array([1.0, 1e200]))
    assert st.run_m2 == float("inf")
    with write_tx(studio.engine) as conn:
        StreamRepository.save(conn, "ops", [(st, st.to_json(), None)])


async def _studio(settings: Any) -> Any:
    from studio.bootstrap import build_studio, start

    st = build_studio(settings, train=False)
    await start(st)
    return st


def _record_batches(studio: Any) -> list[int]:
    sizes: list[int] = []
    run_batch = studio.runner.run_batch

    async def recording(profile: str, events: list[Event]) -> list[dict[str, Any]]:
        sizes.append(len(events))
        return await run_batch(profile, events)

    studio.runner.run_batch = recording
    return sizes


async def test_thirty_concurrent_requests_and_one_poison_event_thirty_decisions(settings: Any) -> None:
    from studio.bootstrap import stop

    st = await _studio(settings)
    try:
        plant_overflowed_state(st, "poisoned")
        before = count_decisions(st.engine)
        sizes = _record_batches(st)
        events = [ops_event(f"iso-{i}", 40.0 + i) for i in range(30)]
        events.insert(13, ops_event("poisoned", 41.0, 2))
        out = await asyncio.gather(*(st.runner.decide([e]) for e in events), return_exceptions=True)
        failed = [e.stream for e, r in zip(events, out, strict=True) if isinstance(r, BaseException)]
        assert failed == ["poisoned"], out
        good = [r[0] for r in out if not isinstance(r, BaseException)]
        assert len(good) == 30 and [d["inputs"]["value"] for d in good] == [40.0 + i for i in range(30)]
        assert max(sizes) > 1  # the poison shared a micro-batch with valid requests, and failed alone
        assert count_decisions(st.engine) == before + 30  # every answered decision was written, once
        # the poisoned stream keeps failing alone; the others go on
        again = await asyncio.gather(
            st.runner.decide([ops_event("iso-0", 42.0, 1)]),
            st.runner.decide([ops_event("poisoned", 42.0, 3)]),
            return_exceptions=True,
        )
        assert not isinstance(again[0], BaseException) and isinstance(again[1], TypeError)
    finally:
        await stop(st)


async def test_a_batch_that_fails_after_scoring_is_undone_before_its_requests_run_again(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poison raises in persist, after prepare appended every event's point to its stream and the models
    advanced their states: the retry must start from the streams as they were, or points would count twice."""
    from graph.nodes import persist as persist_node
    from studio.bootstrap import stop

    build = persist_node.build_decisions

    def failing(state: Any, rt: Any) -> list[dict[str, Any]]:
        if any(e.value == 666.0 for e in state["events"]):
            raise ArithmeticError("poison after scoring")
        return build(state, rt)

    monkeypatch.setattr(persist_node, "build_decisions", failing)
    st = await _studio(settings)
    try:
        await st.runner.decide([ops_event("shared", 10.0, 0)])  # the stream is in memory before the bad batch
        sizes = _record_batches(st)
        values = [11.0, 12.0, 666.0, 13.0, 14.0]
        out = await asyncio.gather(
            *(
                st.runner.decide([ops_event(s, v, k + 1)])
                for k, v in enumerate(values)
                for s in ("shared", f"new-{k}")
            ),
            return_exceptions=True,
        )
        assert max(sizes) > 2
        errors = [r for r in out if isinstance(r, BaseException)]
        assert len(errors) == 2 and all(isinstance(e, ArithmeticError) for e in errors)
        shared = st.runtimes["ops"].streams.states["shared"]
        assert shared.n_seen == 5 and shared.values.tolist() == [10.0, 11.0, 12.0, 13.0, 14.0]
        assert shared.run_n == 5 and shared.run_mean == pytest.approx(12.0)
        streams = st.runtimes["ops"].streams.states
        assert (
            "new-2" not in streams or streams["new-2"].n_seen == 0
        )  # the failed request left nothing behind
        assert [streams[f"new-{k}"].n_seen for k in (0, 1, 3, 4)] == [1, 1, 1, 1]
        seen = await st.runner.call(lambda: st.runtimes["ops"].streams.get_many(["shared"])["shared"].n_seen)
        assert seen == 5
    finally:
        await stop(st)
