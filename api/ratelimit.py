"""Per-key token buckets: in memory (one process) by default, in Redis (shared by every replica) with
STUDIO_REDIS_URL, through one atomic Lua script that reads Redis's own clock."""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)
RETRY_REDIS_S = 5.0

# KEYS[1] = bucket; ARGV = rate per second, burst. Returns {allowed (0/1), seconds until one token (string)}.
TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1])
local ts = tonumber(v[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(wait)}
"""


class MemoryBuckets:
    """Token buckets in this process: refill `rate` tokens per second up to `burst`; one token per request."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, rate: float, burst: int) -> tuple[bool, float]:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._buckets.clear()  # a flood of distinct keys: start over rather than grow without bound
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return True, 0.0
        self._buckets[key] = (tokens, now)
        return False, (1.0 - tokens) / rate


class RateLimiter:
    """`await take(bucket, rate, burst)` -> (allowed, retry_after_s). With Redis, a Redis outage falls back to
    the in-memory buckets (logged) rather than refusing every request."""

    def __init__(self, redis_url: str | None = None, prefix: str = "studio:rl:") -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self.memory = MemoryBuckets()
        self._client: Any = None
        self._script: Any = None
        self._warned_at = 0.0
        self._down_until = 0.0  # after a Redis failure, use memory for a few seconds (no timeout per request)

    @property
    def backend(self) -> str:
        return "redis" if self._client is not None else "memory"

    async def start(self) -> None:
        if not self.redis_url or self._client is not None:
            return
        import redis.asyncio as redis

        self._client = redis.Redis.from_url(self.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._client.register_script(TOKEN_BUCKET_LUA)

    async def ping(self) -> None:
        """Readiness probe of the shared buckets' Redis (raises when it does not answer)."""
        if self._client is None:
            raise RuntimeError("no Redis client: STUDIO_REDIS_URL unset or the limiter not started")
        await self._client.ping()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def take(self, bucket: str, rate: float, burst: int) -> tuple[bool, float]:
        if self._script is None or time.monotonic() < self._down_until:
            return self.memory.take(bucket, rate, burst)
        try:
            allowed, wait = await self._script(keys=[self.prefix + bucket], args=[rate, burst])
            return bool(int(allowed)), float(wait)
        except Exception as exc:  # Redis down or slow: keep serving, limited per process
            self._down_until = time.monotonic() + RETRY_REDIS_S
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("rate limiter: Redis unavailable (%s); using in-memory buckets", type(exc).__name__)
            return self.memory.take(bucket, rate, burst)
