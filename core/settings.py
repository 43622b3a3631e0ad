"""One Settings object (env prefix STUDIO_), created once; production refuses unsafe defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core import PROJECT_ROOT


class Settings(BaseSettings):
    """Every knob of the service. Paths that are relative resolve against the project root."""

    model_config = SettingsConfigDict(env_prefix="STUDIO_", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one JSON object per line (studio/logging.py)
    otel_endpoint: str | None = None  # OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces (unset: off)
    otel_service_name: str = "gateway-ml-studio"

    database_url: str = ""  # empty: sqlite at <var_dir>/studio.db
    var_dir: Path = Path("var")
    models_dir: Path | None = None  # default <var_dir>/models
    data_dir: Path = Path("data")
    profiles_dir: Path = Path("profiles")
    rules_dir: Path = Path("policies/rules")
    prompts_dir: Path = Path("prompts")
    redis_url: str | None = None

    max_body_bytes: int = 2_000_000
    batch_max_size: int = Field(256, ge=1, le=4096)
    batch_max_wait_ms: float = Field(2.0, ge=0.0, le=1000.0)
    # batchers and the graph on their own thread, off the HTTP loop: measured slower under the GIL (docs/performance.md)
    decision_thread: bool = False
    batch_api_max_events: int = Field(1000, ge=1, le=10_000)
    tool_timeout_ms: float = Field(2000.0, gt=0)
    stream_refit_every: int = Field(5000, ge=0)
    # stream fits (~0.4 s of CPU each) in a child process, off the decision path's GIL (runtime/fit_process.py)
    stream_fit_process: bool = True
    maintenance_interval_s: float = Field(300.0, ge=0.0)  # baselines refresh, router sync (0: off)
    # allocations between young-generation GC runs once started (Python's default is 700; 0 keeps it): a
    # 1,000-event batch makes ~100,000 objects, and at 700 the collector cost ~50 ms per batch (docs/performance.md)
    gc_young_threshold: int = Field(50_000, ge=0)
    # BLAS threads (numpy's and scipy's OpenBLAS) once started (0 keeps the libraries' default, one per core):
    # an idle OpenBLAS helper thread spins, and on 2 cores it took ~80 ms of CPU per 1,000-event batch
    blas_threads: int = Field(1, ge=0)

    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = 20.0
    llm_max_tokens: int = 600
    llm_max_retries: int = 1
    llm_cost_per_1k_input: float = 0.0
    llm_cost_per_1k_output: float = 0.0
    # circuit breaker on the LLM provider: open after this many consecutive failed calls, for the cool-down
    llm_circuit_failures: int = Field(5, ge=1, le=1000)
    llm_circuit_cooldown_s: float = Field(30.0, gt=0.0, le=3600.0)
    explanation_workers: int = Field(1, ge=0, le=32)
    explanation_actions: str = "alert,critical,review"  # actions whose decisions get an overseer job
    explanation_max_attempts: int = Field(4, ge=1, le=50)
    explanation_backoff_s: float = Field(2.0, ge=0.0)  # doubles per attempt, capped at 300 s
    explanation_lease_s: float = Field(60.0, gt=0.0)  # a worker that stops heart-beating loses its job after this
    explanation_poll_s: float = Field(0.5, gt=0.0, le=60.0)
    explanation_wait_max_ms: int = Field(60_000, ge=0)  # cap on ?explain=wait&timeout_ms= and the SSE stream
    overseer_history: int = Field(50, ge=0, le=1000)  # recent stream decisions summarized for the overseer
    prompt_versions: str = ""  # pins, e.g. "judge=1,explain=1"; default: the newest file of each prompt
    webhook_timeout_s: float = Field(5.0, gt=0.0)
    webhook_max_attempts: int = Field(6, ge=1, le=50)
    webhook_backoff_s: float = Field(2.0, ge=0.0)

    admin_key_file: Path | None = None  # default <var_dir>/admin.key
    # audit checkpoints' HMAC key, kept outside the database: this, else a file (mode 0600) created on first use
    audit_key: SecretStr | None = None
    audit_key_file: Path | None = None  # default <var_dir>/audit.key
    audit_checkpoint_interval_s: float = Field(60.0, ge=0.0)  # signed checkpoints of the chain's head (0: off)
    # operations gauges (queues, silent streams) refreshed this often off the request path (0: off); the whole
    # audit chain verified every audit_verify_interval_s (studio_audit_chain_ok)
    ops_gauges_interval_s: float = Field(15.0, ge=0.0)
    audit_verify_interval_s: float = Field(3600.0, ge=0.0)
    stream_silent_s: float = Field(900.0, gt=0.0)  # a stream that sent today but not for this long is silent
    drift_interval_s: float = Field(60.0, ge=0.0)  # drift against the training reference, this often (0: off)
    drift_window: int = Field(1000, ge=50, le=100_000)  # over each profile's last this many decisions
    rate_limit_per_s: float = Field(200.0, gt=0.0)  # per API key (token bucket), unless the key has its own
    rate_limit_burst: int = Field(400, ge=1)
    key_cache_s: float = Field(5.0, ge=0.0)  # a revoked key is refused by other replicas within this long
    alert_window_s: float = Field(3600.0, gt=0.0)  # a decision joins an alert with its key seen this recently
    review_checkpoint_path: Path | None = None  # SQLite checkpointer of review threads (default <var_dir>/review.db)
    review_poll_s: float = Field(2.0, gt=0.0, le=300.0)  # how often new alerts are triaged
    review_explanation_wait_s: float = Field(120.0, ge=0.0)  # triage waits this long for a pending overseer verdict
    review_label_limit: int = Field(50, ge=1, le=10_000)  # decisions of one alert labelled by its review
    train_on_start: bool = True
    health_cache_s: float = Field(2.0, ge=0.0, le=300.0)  # readiness probes are re-run at most this often
    ready_requires: str = "database"  # probes whose failure makes /v1/health/ready 503 (database,redis,llm)

    @model_validator(mode="after")
    def _resolve(self) -> Settings:
        for name in ("var_dir", "data_dir", "profiles_dir", "rules_dir", "prompts_dir"):
            path = getattr(self, name)
            if not path.is_absolute():
                setattr(self, name, (PROJECT_ROOT / path).resolve())
        if self.models_dir is None:
            self.models_dir = self.var_dir / "models"
        elif not self.models_dir.is_absolute():
            self.models_dir = (PROJECT_ROOT / self.models_dir).resolve()
        if self.admin_key_file is None:
            self.admin_key_file = self.var_dir / "admin.key"
        if self.review_checkpoint_path is None:
            self.review_checkpoint_path = self.var_dir / "review.db"
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'studio.db'}"
        if self.env == "prod":
            self._refuse_unsafe_defaults()
        return self

    def _refuse_unsafe_defaults(self) -> None:
        problems = []
        if self.database_url.startswith("sqlite"):
            problems.append("STUDIO_DATABASE_URL must point at PostgreSQL in prod")
        if self.host in ("0.0.0.0", "::") and not self.redis_url:
            problems.append("STUDIO_REDIS_URL is required for shared rate limits when serving publicly")
        if self.llm_base_url and self.llm_base_url.startswith("http://") and "127.0.0.1" not in self.llm_base_url:
            problems.append("STUDIO_LLM_BASE_URL must use https outside localhost")
        if problems:
            raise ValueError("unsafe production settings: " + "; ".join(problems))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def models_path(self) -> Path:
        assert self.models_dir is not None
        return self.models_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
