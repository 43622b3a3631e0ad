"""The micro-batcher: per-stream order, nothing lost or duplicated under concurrency, bounded batches."""

from __future__ import annotations

import asyncio
import random

import pytest

from runtime.batcher import MicroBatcher


async def test_order_per_stream_and_no_loss_under_concurrency() -> None:
    seen: list[tuple[str, int]] = []
    sizes: list[int] = []

    async def run(items: list[tuple[str, int]]) -> list[str]:
        sizes.append(len(items))
        await asyncio.sleep(random.random() / 1000)
        seen.extend(items)
        return [f"{s}:{k}" for s, k in items]

    b = MicroBatcher(run, max_size=16, max_wait_s=0.002)
    b.start()
    counters = {f"s{i}": 0 for i in range(8)}

    async def client(stream: str) -> list[str]:
        out = []
        for _ in range(40):  # each client sends its stream's points in order, one request at a time
            k = counters[stream]
            counters[stream] += 1
            out.extend(await b.submit([(stream, k)]))
        return out

    results = await asyncio.gather(*(client(s) for s in counters))
    await b.stop()
    assert sum(len(r) for r in results) == 320
    assert len(seen) == 320 and len(set(seen)) == 320  # nothing lost, nothing twice
    for s in counters:
        ks = [k for st, k in seen if st == s]
        assert ks == sorted(ks)  # arrival order per stream
    for r, s in zip(results, counters, strict=True):
        assert r == [f"{s}:{k}" for k in range(40)]  # each caller got its own answers, in order
    assert max(sizes) <= 16 and b.batches < 320  # requests were coalesced


async def test_multi_item_requests_are_not_split_and_large_ones_run_alone() -> None:
    batches: list[list[int]] = []

    async def run(items: list[int]) -> list[int]:
        batches.append(list(items))
        return [i * 2 for i in items]

    b = MicroBatcher(run, max_size=10, max_wait_s=0.01)
    b.start()
    r = await asyncio.gather(b.submit(list(range(6))), b.submit(list(range(100, 106))), b.submit(list(range(200, 225))))
    await b.stop()
    assert r[0] == [i * 2 for i in range(6)] and r[2] == [i * 2 for i in range(200, 225)]
    assert [200 + i for i in range(25)] in batches  # larger than max_size: alone, whole
    for batch in batches:
        assert len(batch) <= 10 or len(batch) == 25


async def test_a_failed_batch_reaches_every_caller_and_the_worker_goes_on() -> None:
    calls = 0

    async def run(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database is down")
        return items

    b = MicroBatcher(run, max_size=4, max_wait_s=0.0)
    b.start()
    with pytest.raises(RuntimeError, match="database is down"):
        await b.submit([1])
    assert await b.submit([2]) == [2]
    await b.stop()


async def test_an_idle_batcher_runs_a_lone_request_at_once_and_waits_only_under_load() -> None:
    sizes: list[int] = []

    async def run(items: list[int]) -> list[int]:
        sizes.append(len(items))
        await asyncio.sleep(0.05)
        return items

    b = MicroBatcher(run, max_size=64, max_wait_s=1.0)  # a wait this long would be obvious
    b.start()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await b.submit([1]) == [1]
    assert loop.time() - t0 < 0.6  # idle: no waiting for company
    # under load (requests queued while a batch runs) later requests share batches
    results = await asyncio.wait_for(asyncio.gather(*(b.submit([k]) for k in range(20))), 30)
    await b.stop()
    assert [r[0] for r in results] == list(range(20))
    assert max(sizes[1:]) > 1


async def test_the_decision_loop_runs_coroutines_on_its_own_thread() -> None:
    import threading

    from runtime.runner import DecisionLoop

    async def where(x: int) -> tuple[str, int]:
        await asyncio.sleep(0)
        if x < 0:
            raise ValueError("negative")
        return threading.current_thread().name, x * 2

    not_started = DecisionLoop(name="decision-test")
    assert await not_started.run(where(1)) == (threading.current_thread().name, 2)  # inline until started
    dl = DecisionLoop(name="decision-test")
    dl.start()
    try:
        assert await dl.run(where(21)) == ("decision-test", 42)
        with pytest.raises(ValueError, match="negative"):
            await dl.run(where(-1))
    finally:
        dl.stop()
    not_started.loop.close()
