"""Runtime context of the decision graph: the profile's live models, streams, router, tools and stores."""

from __future__ import annotations

import threading
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.profiles import Profile
from graph.streams import StreamManager
from models.bundle import ModelBundle
from models.router import RouterState
from policies.rules import RulePack
from tools.registry import ProfileTools


@dataclass
class RouterRuntime:
    """The router's state plus the random source and lock that go with it."""

    state: RouterState
    version: str
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng())
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class ProfileRuntime:
    """Everything live for one profile. `bundle` is swapped whole on reload; a batch keeps the one it started with."""

    profile: Profile
    pack: RulePack
    bundle: ModelBundle
    router: RouterRuntime
    streams: StreamManager | None
    tools: ProfileTools | None = None


@dataclass
class DecisionContext:
    """What graph nodes get through `runtime.context`."""

    runtime: ProfileRuntime
    lookups: Any  # store.lookups.Lookups (read-only watchlists and baselines) or None
    writer: Any  # store.decisions.DecisionWriter, or None to decide without persisting (replay)
    executor: Executor | None
    tool_timeout_s: float
    # Where batches are written: one thread, so the rows' serialized parts, which live on in the response, come
    # from one malloc arena (a batch's 10 MB on whichever pool thread ran it kept ~160 MB more resident); None:
    # the default pool.
    write_executor: Executor | None = None
    metrics: Any = None
    actor: str = "api"
    explore: bool = True  # replay turns exploration off so a replay is reproducible
    # batches smaller than this score in the loop's thread (and are written there when the write lock is free);
    # larger ones in the pool and the write thread
    inline_below: int = 32
