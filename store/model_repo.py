"""Model versions and activations (which version of each model serves), with their audit events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from store.audit import AuditRecord, append
from store.ids import now_iso
from store.tables import ModelActivationRow, ModelVersionRow

VERSIONS = ModelVersionRow.__table__  # type: ignore[attr-defined]
ACTIVATIONS = ModelActivationRow.__table__  # type: ignore[attr-defined]


def record_version(conn: Connection, row: dict[str, Any], actor: str) -> None:
    conn.execute(insert(VERSIONS), [row])
    append(conn, [AuditRecord(actor, "model.registered", "model", f"{row['profile']}/{row['model']}", {
        "version": row["version"], "manifest_sha256": row["manifest_sha256"], "data_sha256": row["data_sha256"],
        "code_version": row["code_version"], "metrics": row["metrics"],
    })])


def record_activation(conn: Connection, profile: str, model: str, version: str, actor: str, reason: str,
                      previous: str | None) -> None:
    conn.execute(insert(ACTIVATIONS), [{"profile": profile, "model": model, "version": version,
                                        "activated_at": now_iso(), "actor": actor, "reason": reason}])
    append(conn, [AuditRecord(actor, "model.activated", "model", f"{profile}/{model}", {
        "version": version, "previous": previous, "reason": reason,
    })])


def version_row(engine: Engine, profile: str, model: str, version: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(VERSIONS).where(
            VERSIONS.c.profile == profile, VERSIONS.c.model == model, VERSIONS.c.version == version)).mappings().first()
    return dict(row) if row else None


def list_versions(engine: Engine, profile: str | None = None) -> list[dict[str, Any]]:
    q = select(VERSIONS).order_by(VERSIONS.c.profile, VERSIONS.c.model, VERSIONS.c.created_at)
    if profile:
        q = q.where(VERSIONS.c.profile == profile)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def activation_history(engine: Engine, profile: str, model: str) -> list[dict[str, Any]]:
    q = select(ACTIVATIONS).where(ACTIVATIONS.c.profile == profile, ACTIVATIONS.c.model == model)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q.order_by(ACTIVATIONS.c.id)).mappings()]


def active_versions(engine: Engine, profile: str) -> dict[str, str]:
    """The latest activation of each model of the profile."""
    q = select(ACTIVATIONS).where(ACTIVATIONS.c.profile == profile).order_by(ACTIVATIONS.c.id)
    out: dict[str, str] = {}
    with engine.connect() as conn:
        for r in conn.execute(q).mappings():
            out[r["model"]] = r["version"]
    return out


def next_version(engine: Engine, profile: str, model: str) -> str:
    with engine.connect() as conn:
        rows = conn.execute(select(VERSIONS.c.version).where(
            VERSIONS.c.profile == profile, VERSIONS.c.model == model)).scalars().all()
    nums = [int(v[1:]) for v in rows if v.startswith("v") and v[1:].isdigit()]
    return f"v{max(nums, default=0) + 1}"
