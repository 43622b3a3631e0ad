"""A served profile's live parts: its rule pack, model bundle, router (with its random source and lock), stream
manager and tools. Built by studio/runtimes.py; the decision graph reads it through its context."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from core.profiles import Profile
from models.bandit import RouterState
from models.bundle import ModelBundle
from policies.rules import RulePack
from runtime.streams import StreamManager
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
