"""The composition root: builds the engine, registry, profiles, models, tools, graphs, runner and services, once.

Each service gets the collaborators it uses (never the Studio); the routes reach one service each through the
aliases in api/deps.py."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine

from core.profiles import Profile, load_profiles
from core.settings import Settings
from graph.context import DecisionContext
from graph.decision import DecisionGraph, batch_runner, build_decision_graph
from models.registry import ModelRegistry
from policies.rules import RulePack, load_rule_pack
from runtime.profile_runtime import ProfileRuntime
from runtime.runner import DecisionRunner
from store.decisions import DecisionWriter
from store.engine import init_db, make_engine
from store.lookups import Lookups
from studio import telemetry
from studio.alerts import AlertService
from studio.audit_log import AuditLog
from studio.decision_replay import DecisionReplay
from studio.decisions import DecisionService
from studio.drift import DriftMonitor
from studio.feedback import FeedbackService
from studio.forecasts import Forecasts
from studio.health import Health
from studio.keys import KeyService
from studio.metrics import Metrics
from studio.model_admin import ModelAdmin
from studio.runtimes import build_runtime
from studio.streams import StreamService
from studio.watchlists import WatchlistService
from studio.webhook_subscriptions import WebhookSubscriptions

if TYPE_CHECKING:
    from threadpoolctl import threadpool_limits

    from store.wal_checkpoint import WalCheckpointer
    from studio.chat import ChatService
    from studio.overseer import Overseer
    from studio.review import ReviewService
    from studio.workers import WorkerPool
    from tools.base import StudioTool

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Studio:
    """Everything the process serves with. The services that need no running decision loop exist from the start
    (the CLI uses them); the runner, the overseer and what depends on them are added by build_studio."""

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
    graph: DecisionGraph | None = None
    runner: DecisionRunner | None = None
    overseer: Overseer | None = None  # LLM provider, prompts, explanation jobs
    workers: WorkerPool | None = None  # in-process explanation and webhook workers
    review: ReviewService | None = None  # alert review threads (checkpointed) and their triager
    chat: ChatService | None = None  # incident chat threads (checkpointed) over read-only tools
    decisions: DecisionService | None = None
    alerts: AlertService | None = None
    health: Health | None = None
    drift: DriftMonitor | None = None  # drift against the training reference, off the hot path
    wal: WalCheckpointer | None = None  # SQLite: WAL checkpoints off the commit path
    background: list[asyncio.Task[None]] = field(default_factory=list)
    gc_before: tuple[int, int, int] | None = None  # the GC thresholds start() replaced; stop() puts them back
    blas_limits: threadpool_limits | None = None  # threadpoolctl's limits start() set; stop() restores them
    started_at: float = field(default_factory=time.time)
    # the services every process has (built in __post_init__ from the fields above)
    audit: AuditLog = field(init=False)
    keys: KeyService = field(init=False)
    feedback: FeedbackService = field(init=False)
    forecasts: Forecasts = field(init=False)
    models: ModelAdmin = field(init=False)
    streams: StreamService = field(init=False)
    watchlists: WatchlistService = field(init=False)
    webhooks: WebhookSubscriptions = field(init=False)
    replayer: DecisionReplay = field(init=False)

    def __post_init__(self) -> None:
        s, e = self.settings, self.engine
        self.audit = AuditLog(s, e)
        self.keys = KeyService(e, s.key_cache_s)
        self.feedback = FeedbackService(e, self.profiles, self.runtimes)
        self.forecasts = Forecasts(self.runtimes, self.between_batches, profiles=self.profiles)
        self.models = ModelAdmin(e, self.registry, self.profiles, self.runtimes, self.between_batches)
        self.streams = StreamService(self.profiles, self.runtimes, self.between_batches)
        self.watchlists = WatchlistService(e, self.profiles, self.lookups)
        self.webhooks = WebhookSubscriptions(e, env=s.env)
        self.replayer = DecisionReplay(e, self.registry, self.profiles, self.packs, self.runtimes)

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
    """Engine (schema ensured), registry, profiles, rule packs and the services that need no decision loop:
    enough for the CLI."""
    engine = make_engine(settings.database_url)
    init_db(engine)
    if telemetry.configure(settings):
        telemetry.instrument_engine(engine)
    profiles = load_profiles(settings.profiles_dir)
    packs = {name: load_rule_pack(settings.rules_dir, p.rules) for name, p in profiles.items()}
    return Studio(settings=settings, engine=engine, registry=ModelRegistry(settings.models_path, engine),
                  profiles=profiles, packs=packs, lookups=Lookups(engine), metrics=metrics or Metrics())


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


def build_studio(settings: Settings, *, train: bool | None = None, progress: bool = True,
                 metrics: Metrics | None = None) -> Studio:
    """Everything the API and the CLI need; trains missing profiles first when asked (default: settings)."""
    studio = open_base(settings, metrics)
    if settings.train_on_start if train is None else train:
        train_missing(studio, progress=progress)
    studio.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tool")
    studio.write_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decision-write")
    if settings.stream_fit_process:
        from runtime.fit_process import FitProcess

        studio.fit_executor = FitProcess(settings.database_url, settings.models_path, settings.profiles_dir)
    else:
        studio.fit_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-fit")
    for name, profile in studio.profiles.items():
        studio.runtimes[name] = build_runtime(profile, studio.packs[name], engine=studio.engine,
                                              registry=studio.registry, lookups=studio.lookups,
                                              refit_every=settings.stream_refit_every,
                                              fit_executor=studio.fit_executor)
    studio.graph = build_decision_graph()
    build_services(studio)
    return studio


def build_services(studio: Studio) -> None:
    """The overseer, review, chat, decision, alert and health services (they need the runtimes and the graph)."""
    from studio.chat import ChatService
    from studio.overseer import Overseer
    from studio.review import ReviewService
    from tools.chat_tools import chat_tools

    s, engine = studio.settings, studio.engine
    overseer = studio.overseer = Overseer(s, engine, studio.profiles, studio.metrics)
    studio.review = ReviewService(s, engine, studio.profiles, studio.metrics, studio.feedback)
    runtimes = studio.runtimes

    def model_tool(profile: str, model: str) -> StudioTool | None:
        rt = runtimes.get(profile)
        return rt.tools.get(f"{profile}_{model}") if rt is not None and rt.tools is not None else None

    tools = chat_tools(engine, forecast=studio.forecasts.of_named_stream, model_tool=model_tool)
    studio.chat = ChatService(s, engine, list(studio.profiles), tools, provider=lambda: overseer.provider)
    assert studio.graph is not None
    studio.runner = DecisionRunner(
        batch_runner(studio.graph, studio.context), runtimes, max_size=s.batch_max_size,
        max_wait_s=s.batch_max_wait_ms / 1000.0, on_batch=studio.metrics.batch, threaded=s.decision_thread)
    studio.decisions = DecisionService(engine, studio.runner, studio.replayer, overseer)
    studio.alerts = AlertService(engine, studio.review)
    studio.health = Health(s, engine, studio.metrics, runtimes, started_at=studio.started_at, overseer=overseer,
                           runner=studio.runner)
    studio.drift = DriftMonitor(s, engine, studio.metrics, studio.profiles, runtimes)


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
    if studio.drift is not None and studio.settings.drift_interval_s > 0:
        studio.background.append(asyncio.create_task(studio.drift.run(studio.settings.drift_interval_s)))
    if studio.settings.ops_gauges_interval_s > 0:
        from studio.ops_gauges import OpsGauges

        gauges = OpsGauges(studio.settings, studio.engine, studio.metrics, list(studio.profiles))
        studio.background.append(asyncio.create_task(gauges.run(studio.settings.ops_gauges_interval_s)))
    if studio.settings.maintenance_interval_s > 0:
        from studio import maintenance

        studio.background.append(asyncio.create_task(maintenance.run(
            studio.engine, studio.runtimes, studio.lookups, studio.settings.maintenance_interval_s)))
    from studio import audit_integrity

    audit_integrity.signer(studio.settings)  # the checkpoint key: created now, or a bad STUDIO_AUDIT_KEY fails here
    if studio.settings.audit_checkpoint_interval_s > 0:
        studio.background.append(asyncio.create_task(
            audit_integrity.run(studio.settings, studio.engine, studio.settings.audit_checkpoint_interval_s)))
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

    await asyncio.to_thread(checkpoint_on_shutdown, studio.settings, studio.engine)  # signs the head after the last batch committed
    if studio.wal is not None:
        studio.wal.stop()
    if studio.gc_before is not None:
        gc.set_threshold(*studio.gc_before)
        studio.gc_before = None
    if studio.blas_limits is not None:
        studio.blas_limits.restore_original_limits()
        studio.blas_limits = None
    studio.engine.dispose()
