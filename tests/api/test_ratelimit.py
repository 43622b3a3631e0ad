"""Token buckets: in memory, and in Redis where two limiters (two replicas) share one bucket atomically."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from api.ratelimit import MemoryBuckets, RateLimiter


def test_memory_buckets_refill_at_their_rate() -> None:
    b = MemoryBuckets()
    assert [b.take("k", 10.0, 3)[0] for _ in range(4)] == [True, True, True, False]
    allowed, wait = b.take("k", 10.0, 3)
    assert not allowed and 0 < wait <= 0.1
    assert b.take("other", 10.0, 3)[0]  # buckets are per key


async def test_an_unreachable_redis_falls_back_to_memory() -> None:
    limiter = RateLimiter("redis://127.0.0.1:1/0")
    await limiter.start()
    try:
        assert [(await limiter.take("k", 1.0, 2))[0] for _ in range(3)] == [True, True, False]
    finally:
        await limiter.close()


async def test_redis_buckets_are_shared_by_replicas_and_atomic() -> None:
    url = os.environ.get("STUDIO_TEST_REDIS_URL")
    if not url:
        pytest.skip("Redis rate-limit tests need STUDIO_TEST_REDIS_URL (set by .ci/run)")
    prefix = f"studio-test:{uuid.uuid4().hex[:8]}:"
    a, b = RateLimiter(url, prefix=prefix), RateLimiter(url, prefix=prefix)
    await a.start()
    await b.start()
    try:
        assert a.backend == b.backend == "redis"
        results = await asyncio.gather(*((a if i % 2 else b).take("key:k1", 0.5, 10) for i in range(40)))
        assert sum(ok for ok, _ in results) == 10  # 40 concurrent requests on two replicas: exactly the burst
        assert all(wait > 0 for ok, wait in results if not ok)
        assert (await a.take("key:k2", 0.5, 10))[0]  # another key, another bucket
    finally:
        await a.close()
        await b.close()
