"""The composition root: builds the engine, registry, profiles, models, tools, graphs and runner, once."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Engine

from core.profiles import Profile, load_profiles
from core.settings import Settings
from graph.context import DecisionContext, ProfileRuntime, RouterRuntime
from graph.decision import build_decision_graph
from graph.runner import DecisionRunner
from graph.streams import StreamManager
from models.bundle import load_bundle
from models.registry import ModelRegistry
from models.router import RouterState
from policies.rules import RulePack, load_rule_pack
from store.decisions import DecisionWriter
from store.engine import init_db, make_engine
from store.lookups import Lookups
from store.streams import StreamRepository
from studio.forecasts import Forecasts
from studio.metrics import Metrics

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Studio:
    settings: Settings
    engine: Engine
    registry: ModelRegistry
    profiles: dict[str, Profile]
    packs: dict[str, RulePack]
    lookups: Lookups
    metrics: Metrics
    runtimes: dict[str, ProfileRuntime] = field(default_factory=dict)
    executor: ThreadPoolExecutor | None = None
    write_executor: ThreadPoolExecutor | None = None  # the one thread that writes decision batches
    fit_executor: Executor | None = None
    graph: Any = None
    runner: DecisionRunner | None = None
    forecasts: Forecasts | None = None  # studio/forecasts.py: set once the Studio exists (it needs between_batches)
    background: list[asyncio.Task[None]] = field(default_factory=list)
    overseer: Any = None  # studio.overseer.Overseer: LLM provider, prompts, explanation jobs
    workers: Any = None  # studio.workers.WorkerPool (in-process explanation and webhook workers)
    review: Any = None  # studio.review.ReviewService: alert review threads (checkpointed) and their triager
    chat: Any = None  # studio.chat.ChatService: incident chat threads (checkpointed) over read-only tools
    wal: Any = None  # store.wal_checkpoint.WalCheckpointer (SQLite): WAL checkpoints off the commit path
    gc_before: tuple[int, int, int] | None = None  # the GC thresholds start() replaced; stop() puts them back
    blas_limits: Any = None  # threadpoolctl's limits start() set; stop() restores the libraries' own
    started_at: float = field(default_factory=time.time)

    async def between_batches(self, fn: Callable[[], T]) -> T:
        """Run fn on the decision loop between batches (stream states and bundles change only there)."""
        return await self.runner.call(fn) if self.runner is not None else fn()

    def writer(self) -> DecisionWriter:
        """The decision writer, with the overseer's job policy (jobs commit with their decisions)."""
        return DecisionWriter(self.engine, explain=self.overseer.policy if self.overseer else None,
                              on_jobs=self.workers.wake if self.workers else None,
                              alert_window_s=self.settings.alert_window_s,
                              on_alerts=self.review.wake if self.review else None)

    def context(self, rt: ProfileRuntime, *, actor: str = "api") -> DecisionContext:
        return DecisionContext(runtime=rt, lookups=self.lookups, writer=self.writer(),
                               executor=self.executor, write_executor=self.write_executor,
                               tool_timeout_s=self.settings.tool_timeout_ms / 1000.0, metrics=self.metrics, actor=actor)


def open_base(settings: Settings, metrics: Metrics | None = None) -> Studio:
    """Engine (schema ensured), registry, profiles and rule packs: enough for the CLI's train command."""
    engine = make_engine(settings.database_url)
    init_db(engine)
    profiles = load_profiles(settings.profiles_dir)
    packs = {name: load_rule_pack(settings.rules_dir, p.rules) for name, p in profiles.items()}
    studio = Studio(settings=settings, engine=engine, registry=ModelRegistry(settings.models_path, engine),
                    profiles=profiles, packs=packs, lookups=Lookups(engine), metrics=metrics or Metrics())
    studio.forecasts = Forecasts(studio.runtimes, studio.between_batches)
    return studio


def untrained_profiles(studio: Studio) -> list[str]:
    return [name for name in studio.profiles if "pipeline" not in studio.registry.active(name)]


def train_missing(studio: Studio, *, progress: bool = True) -> list[str]:
    """Train every profile that has no active models yet (what `make run` does on a fresh clone)."""
    from models.training import train_profile

    todo = untrained_profiles(studio)
    for name in todo:
        report = train_profile(studio.profiles[name], studio.packs[name], data_dir=studio.settings.data_dir,
                               registry=studio.registry, actor="bootstrap", progress=progress)
        log.info("trained %s in %.1fs", name, report.seconds)
    return todo


def load_router(studio: Studio, profile: Profile) -> RouterRuntime:
    """The latest learned state (from feedback) if it grew from the active warm-started artifact, else that
    artifact, else a fresh router."""
    from store.router_repo import latest_state

    version = studio.registry.active(profile.name).get("router")
    learned = latest_state(studio.engine, profile.name)
    if learned is not None and learned["state"].get("base") == version:
        return RouterRuntime(state=RouterState.from_json(learned["state"]), version=f"r{learned['version']}")
    if version is not None:
        state = studio.registry.load(profile.name, "router", version)
        state.base = version
        return RouterRuntime(state=state, version=version)
    arms = list(profile.router.arms)
    return RouterRuntime(state=RouterState(arms, alpha=profile.router.alpha, epsilon=profile.router.epsilon),
                         version="untrained")


def build_runtime(studio: Studio, profile: Profile, *, streams: StreamManager | None = None) -> ProfileRuntime:
    bundle = load_bundle(profile, studio.registry)
    for name, why in bundle.failures.items():
        log.warning("profile %s: model %s not serving: %s", profile.name, name, why)
    if streams is None and profile.is_stream:
        streams = StreamManager(profile, StreamRepository(studio.engine), refit_every=studio.settings.stream_refit_every,
                                executor=studio.fit_executor)
    rt = ProfileRuntime(profile=profile, pack=studio.packs[profile.name], bundle=bundle,
                        router=load_router(studio, profile), streams=streams)
    from tools.registry import profile_tools

    rt.tools = profile_tools(rt, studio.lookups, studio.engine)
    return rt


def build_studio(settings: Settings, *, train: bool | None = None, progress: bool = True,
                 metrics: Metrics | None = None) -> Studio:
    """Everything the API and the CLI need; trains missing profiles first when asked (default: settings)."""
    studio = open_base(settings, metrics)
    if settings.train_on_start if train is None else train:
        train_missing(studio, progress=progress)
    studio.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tool")
    studio.write_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decision-write")
    if settings.stream_fit_process:
        from graph.fit_process import FitProcess

        studio.fit_executor = FitProcess(settings.database_url, settings.models_path, settings.profiles_dir)
    else:
        studio.fit_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-fit")
    for name, profile in studio.profiles.items():
        studio.runtimes[name] = build_runtime(studio, profile)
    studio.graph = build_decision_graph()
    from studio.overseer import Overseer

    studio.overseer = Overseer(settings, studio.engine, studio.profiles, studio.metrics)
    from studio.review import ReviewService

    studio.review = ReviewService(studio)
    from studio.chat import ChatService

    studio.chat = ChatService(studio)
    studio.runner = DecisionRunner(
        studio.graph, studio.runtimes, studio.context, max_size=settings.batch_max_size,
        max_wait_s=settings.batch_max_wait_ms / 1000.0, on_batch=studio.metrics.batch,
        threaded=settings.decision_thread)
    return studio


async def start(studio: Studio) -> None:
    import torch

    torch.set_num_threads(1)  # small networks: threads cost more than they save per request
    if studio.settings.blas_threads:
        from threadpoolctl import threadpool_limits

        studio.blas_limits = threadpool_limits(limits=studio.settings.blas_threads, user_api="blas")
    assert studio.runner is not None
    await studio.runner.start()
    studio.metrics.uptime.set(studio.started_at)
    from store.wal_checkpoint import WalCheckpointer

    studio.wal = WalCheckpointer(studio.engine)
    studio.wal.start()
    if studio.overseer is not None and studio.settings.explanation_workers > 0:
        from studio.workers import WorkerPool

        studio.workers = WorkerPool(studio.overseer, workers=studio.settings.explanation_workers, name="api")
        studio.workers.start()
    if studio.review is not None:
        await studio.review.start()
    if studio.chat is not None:
        await studio.chat.start()
    if studio.settings.maintenance_interval_s > 0:
        from studio import maintenance

        studio.background.append(asyncio.create_task(maintenance.run(studio, studio.settings.maintenance_interval_s)))
    from studio import audit_integrity

    audit_integrity.signer(studio.settings)  # the checkpoint key: created now, or a bad STUDIO_AUDIT_KEY fails here
    if studio.settings.audit_checkpoint_interval_s > 0:
        studio.background.append(asyncio.create_task(
            audit_integrity.run(studio, studio.settings.audit_checkpoint_interval_s)))
    gc.collect()
    gc.freeze()  # long-lived objects out of the collector's way: fewer, shorter pauses
    if studio.settings.gc_young_threshold:
        studio.gc_before = gc.get_threshold()
        gc.set_threshold(studio.settings.gc_young_threshold, 20, 10)


async def stop(studio: Studio) -> None:
    for task in studio.background:
        task.cancel()
    if studio.runner is not None:
        await studio.runner.stop()
    if studio.workers is not None:
        await studio.workers.stop()  # a job in flight is released, not lost
    if studio.review is not None:
        await studio.review.stop()  # a thread paused for a person stays in the checkpointer
    if studio.chat is not None:
        await studio.chat.stop()
    for ex in (studio.executor, studio.write_executor, studio.fit_executor):
        if ex is not None:
            ex.shutdown(wait=True, cancel_futures=True)
    from studio.audit_integrity import checkpoint_on_shutdown

    await asyncio.to_thread(checkpoint_on_shutdown, studio)  # signs the head after the last batch committed
    if studio.wal is not None:
        studio.wal.stop()
    if studio.gc_before is not None:
        gc.set_threshold(*studio.gc_before)
        studio.gc_before = None
    if studio.blas_limits is not None:
        studio.blas_limits.restore_original_limits()
        studio.blas_limits = None
    studio.engine.dispose()
