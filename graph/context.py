"""What the decision graph's nodes get through `runtime.context`: the profile's runtime, the stores and pools."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

from runtime.profile_runtime import ProfileRuntime
from store.decisions import DecisionWriter
from store.lookups import Lookups


class DecisionMetrics(Protocol):
    """What the nodes report (studio.metrics.Metrics)."""

    def decision(self, profile: str, action: str, count: int = 1) -> None: ...

    def model_latency(self, profile: str, model: str, status: str, ms: float) -> None: ...

    def model_flags(self, profile: str, models: list[str], answered: list[int], flagged: list[int]) -> None: ...


@dataclass
class DecisionContext:
    """What graph nodes get through `runtime.context`."""

    runtime: ProfileRuntime
    lookups: Lookups | None  # read-only watch-lists and baselines
    writer: DecisionWriter | None  # None: decide without persisting (replay)
    executor: Executor | None
    tool_timeout_s: float
    # Where batches are written: one thread, so the rows' serialized parts, which live on in the response, come
    # from one malloc arena (a batch's 10 MB on whichever pool thread ran it kept ~160 MB more resident); None:
    # the default pool.
    write_executor: Executor | None = None
    metrics: DecisionMetrics | None = None
    actor: str = "api"
    explore: bool = True  # replay turns exploration off so a replay is reproducible
    # batches smaller than this score in the loop's thread (and are written there when the write lock is free);
    # larger ones in the pool and the write thread
    inline_below: int = 32
