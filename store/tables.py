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
