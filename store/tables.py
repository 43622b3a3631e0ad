"""SQLModel tables. Timestamps are ISO-8601 UTC strings so they sort and hash the same on every database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel


class DecisionRow(SQLModel, table=True):
    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_profile_stream_created", "profile", "stream", "created_at"),)

    id: str = Field(primary_key=True)
    created_at: str = Field(index=True)
    profile: str
    stream: str | None = None
    event_ts: float | None = None
    request_id: str | None = None
    batch_id: str
    label: str
    severity: int
    score: float
    action: str = Field(index=True)
    disagreement: float
    inputs: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    outputs: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    router: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    signals: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    rules: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    governor: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    model_versions: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    explanation: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    explanation_status: str = "template"
    content_sha256: str


class AuditEventRow(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_subject", "subject_type", "subject_id"),
        Index("ix_audit_actor_ts", "actor", "ts"),
        Index("ix_audit_action_ts", "action", "ts"),
    )

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ts: str = Field(index=True)
    actor: str
    action: str
    subject_type: str
    subject_id: str
    payload: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON, hashed as stored
    prev_hash: str
    hash: str


class AuditCheckpointRow(SQLModel, table=True):
    """A signed checkpoint of the audit chain's head (store/audit_checkpoints.py): HMAC-SHA256 over seq, hash,
    time and source with a key kept outside the database, so deleting the newest events shows."""

    __tablename__ = "audit_checkpoints"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(index=True)
    hash: str
    created_at: str
    source: str  # periodic | shutdown | anchor | cli
    key_id: str  # which key signed it (a fingerprint, not the key)
    mac: str


class StreamStateRow(SQLModel, table=True):
    __tablename__ = "stream_states"

    profile: str = Field(primary_key=True)
    stream: str = Field(primary_key=True)
    version: int = 0
    updated_at: str
    state: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    fit: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ModelVersionRow(SQLModel, table=True):
    __tablename__ = "model_versions"

    profile: str = Field(primary_key=True)
    model: str = Field(primary_key=True)
    version: str = Field(primary_key=True)
    family: str
    format: str
    path: str
    manifest_sha256: str
    data_sha256: str
    code_version: str
    created_at: str
    metrics: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ModelActivationRow(SQLModel, table=True):
    __tablename__ = "model_activations"
    __table_args__ = (Index("ix_activation_profile_model", "profile", "model", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    profile: str
    model: str
    version: str
    activated_at: str
    actor: str
    reason: str = ""


class WatchlistEntryRow(SQLModel, table=True):
    __tablename__ = "watchlist_entries"
    __table_args__ = (Index("ix_watchlist_kind_value", "kind", "value"),)

    id: str = Field(primary_key=True)
    kind: str
    value: str
    profile: str | None = None  # None: every profile
    reason: str
    expires_at: str | None = None
    created_at: str
    created_by: str
    active: bool = True


class StreamBaselineRow(SQLModel, table=True):
    __tablename__ = "stream_baselines"

    profile: str = Field(primary_key=True)
    stream: str = Field(primary_key=True)
    mean: float
    std: float
    n: int
    window_days: float
    computed_at: str
    source: str = "decisions"


class RouterStateRow(SQLModel, table=True):
    """Every version of a profile's router state (the latest serves); new versions come from feedback."""

    __tablename__ = "router_states"

    profile: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    created_at: str
    reason: str
    updates: int
    state: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class FeedbackRow(SQLModel, table=True):
    """An outcome for a decision (from the API or a human review); it labels the decision and rewards the router."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_profile_created", "profile", "created_at"),)

    id: str = Field(primary_key=True)
    decision_id: str = Field(index=True)
    profile: str
    outcome: float
    source: str
    actor: str
    note: str = ""
    arm: str
    propensity: float
    reward: float
    router_version: str
    created_at: str


class LeasedWork(SQLModel):
    """The columns of a durable work queue (store/jobs.py): queued -> running under a lease -> done, or failed with
    attempts and a backoff (run_at) -> ... -> dead."""

    status: str = "queued"
    attempts: int = 0
    max_attempts: int
    run_at: str
    lease_owner: str | None = None
    lease_until: str | None = None
    last_error: str | None = None
    created_at: str
    updated_at: str
    finished_at: str | None = None


class ExplanationJobRow(LeasedWork, table=True):
    """A durable explanation job: queued -> running (leased) -> done, or failed (backoff) -> ... -> dead."""

    __tablename__ = "explanation_jobs"
    __table_args__ = (Index("ix_explanation_jobs_status_run_at", "status", "run_at"),)

    id: str = Field(primary_key=True)
    decision_id: str = Field(unique=True)
    profile: str
    reason: str


class WebhookRow(SQLModel, table=True):
    """A webhook subscription; `owner` is the API key id (issue 6), "default" until keys exist."""

    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_owner", "owner", "active"),)

    id: str = Field(primary_key=True)
    owner: str
    url: str
    secret: str  # signs deliveries (HMAC-SHA256); shown once, at creation
    events: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    description: str = ""
    active: bool = True
    created_at: str
    deleted_at: str | None = None


class WebhookDeliveryRow(LeasedWork, table=True):
    """One delivery of one event to one subscription, leased and retried with backoff like explanation jobs."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status_run_at", "status", "run_at"),
                      Index("ix_webhook_deliveries_webhook", "webhook_id", "created_at"))

    id: str = Field(primary_key=True)
    webhook_id: str
    event: str
    subject_id: str
    body: str = Field(sa_column=Column(Text, nullable=False))
    last_status: int | None = None


class BatchStreamStateRow(SQLModel, table=True):
    """Each stream's sequential-model states before a batch: with the decisions' stored inputs and the stream
    fit version, enough to recompute the batch exactly (decision replay)."""

    __tablename__ = "batch_stream_states"

    batch_id: str = Field(primary_key=True)
    stream: str = Field(primary_key=True)
    profile: str
    fit_version: int | None = None
    model_states: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: str


class StreamFitRow(SQLModel, table=True):
    """Every fit a stream has had (the stream_states row keeps only the current one)."""

    __tablename__ = "stream_fits"

    profile: str = Field(primary_key=True)
    stream: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    created_at: str
    fit: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ApiKeyRow(SQLModel, table=True):
    """An API key: only its sha256 is stored (the key is shown once, at creation); a role; optional own limits."""

    __tablename__ = "api_keys"

    id: str = Field(primary_key=True)
    name: str
    role: str
    key_hash: str = Field(unique=True)
    prefix: str  # the key's first characters, to recognise it in listings
    created_at: str
    created_by: str
    revoked_at: str | None = None
    rate_per_s: float | None = None  # None: STUDIO_RATE_LIMIT_PER_S
    burst: int | None = None  # None: STUDIO_RATE_LIMIT_BURST


class AlertRow(SQLModel, table=True):
    """An alert: opened (or joined) by alert, critical and review decisions with the same dedup key in a window."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_key_state", "dedup_key", "state", "last_seen_at"),
                      Index("ix_alerts_state_id", "state", "id"),
                      Index("ix_alerts_review_status", "review_status"))

    id: str = Field(primary_key=True)
    dedup_key: str
    profile: str
    stream: str | None = None
    entity: str | None = None
    rule: str
    state: str = "open"  # open -> acknowledged -> resolved
    resolution: str | None = None  # confirmed | dismissed | duplicate
    action: str
    severity: int
    first_decision_id: str
    last_decision_id: str
    decision_count: int = 1
    opened_at: str
    last_seen_at: str
    updated_at: str
    acknowledged_at: str | None = None
    acknowledged_by: str | None = None
    assignee: str | None = None
    snoozed_until: str | None = None
    snoozed_severity: int | None = None
    escalations: int = 0
    resolved_at: str | None = None
    resolved_by: str | None = None
    duplicate_of: str | None = None
    review_status: str = "pending"  # pending | triaging | awaiting_review | triaged | applying | done
    review_claimed_at: str | None = None
    approval_required: bool | None = None
    triage: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class AlertDecisionRow(SQLModel, table=True):
    """Which decisions opened or joined an alert."""

    __tablename__ = "alert_decisions"

    alert_id: str = Field(primary_key=True)
    decision_id: str = Field(primary_key=True, index=True)
    joined_at: str
    action: str
    severity: int
    suppressed: bool = False  # joined while the alert was snoozed, at or below the snoozed severity


class AlertCommentRow(SQLModel, table=True):
    __tablename__ = "alert_comments"

    id: str = Field(primary_key=True)
    alert_id: str = Field(index=True)
    author: str
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: str


class ChatThreadRow(SQLModel, table=True):
    """Who started a chat thread: only that key (or an admin) reads or continues it."""

    __tablename__ = "chat_threads"

    id: str = Field(primary_key=True)
    owner: str = Field(index=True)  # the API key id
    created_at: str
