"""API keys and roles: generation, sha256 hashing, constant-time checks, a short cache, and the first admin key."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core.errors import NotFound, ValidationFailed
from store import keys as key_store
from store.audit import AuditRecord, append
from store.engine import write_tx

log = logging.getLogger(__name__)

KEY_PREFIX = "gms_"
# What each role may do. Every route names one scope (api/deps.py); docs/security.md has the matrix.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "analyst": frozenset({"read", "decide", "feedback"}),
    "reviewer": frozenset({"read", "review", "feedback"}),
    "admin": frozenset({"read", "decide", "review", "feedback", "admin"}),
}
ROLES = tuple(ROLE_SCOPES)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id (the audit actor and webhook owner), name, role and own rate limits."""

    key_id: str
    name: str
    role: str
    rate_per_s: float | None = None
    burst: int | None = None

    @property
    def actor(self) -> str:
        return self.key_id

    def allows(self, scope: str) -> bool:
        return scope in ROLE_SCOPES.get(self.role, frozenset())


def new_key() -> str:
    """256 random bits, URL-safe; recognisable by its prefix (secret scanners, logs review)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLE_SCOPES:
        raise ValidationFailed(f"unknown role {role!r}", details={"roles": list(ROLES)})
    return role


def create_key(engine: Engine, *, role: str, name: str = "", actor: str, rate_per_s: float | None = None,
               burst: int | None = None) -> tuple[str, dict[str, Any]]:
    """A new key: (the key itself, shown once and never stored; its public row)."""
    check_role(role)
    if rate_per_s is not None and rate_per_s <= 0 or burst is not None and burst < 1:
        raise ValidationFailed("rate_per_s must be > 0 and burst >= 1")
    key = new_key()
    row = key_store.create(engine, name=name or role, role=role, key_hash=hash_key(key), prefix=key[:10],
                           actor=actor, rate_per_s=rate_per_s, burst=burst)
    return key, row


def revoke_key(engine: Engine, key_id: str, *, actor: str, reason: str = "") -> dict[str, Any]:
    row = key_store.revoke(engine, key_id, actor=actor, reason=reason)
    if row is None:
        raise NotFound(f"no active key {key_id!r}")
    return row


def write_key_file(path: Path, key: str) -> None:
    """Write the key to a file only its owner can read (0600), replacing an older file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (key + "\n").encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def ensure_admin_key(engine: Engine, key_file: Path) -> str | None:
    """On first start (no active key): create one admin key, write it to `key_file` (0600) and print it once.
    Returns the new key id, or None when keys exist already."""
    key = new_key()
    row = key_store.create_first(engine, name="admin (first start)", role="admin", key_hash=hash_key(key),
                                 prefix=key[:10], actor="bootstrap")
    if row is None:
        return None
    write_key_file(key_file, key)
    # Printed once, to the terminal that started the service; never logged.
    print(f"Created the first admin API key ({row['id']}); it is shown once and was written to {key_file} "
          f"(mode 0600):\n{key}", file=sys.stdout, flush=True)
    log.warning("created the first admin API key %s (written to %s)", row["id"], key_file)
    return str(row["id"])


class KeyStore:
    """Authenticates presented keys: sha256, a database look-up by hash, a constant-time comparison, and a
    short positive/negative cache so a request does not cost a query (revocation here clears it at once)."""

    def __init__(self, engine: Engine, cache_s: float = 5.0, max_entries: int = 10_000) -> None:
        self.engine = engine
        self.cache_s = cache_s
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    def peek(self, key: str) -> tuple[bool, Principal | None]:
        """(cached?, principal) without touching the database."""
        hit = self._cache.get(hash_key(key))
        if hit is not None and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def lookup(self, key: str) -> Principal | None:
        digest = hash_key(key)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = key_store.by_hash(self.engine, digest)
        principal = None
        if row is not None and row["revoked_at"] is None and hmac.compare_digest(row["key_hash"], digest):
            principal = Principal(key_id=row["id"], name=row["name"], role=row["role"], rate_per_s=row["rate_per_s"],
                                  burst=row["burst"])
        if self.cache_s > 0:
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[digest] = (now + self.cache_s, principal)
        return principal

    def forget(self) -> None:
        self._cache.clear()


class KeyService:
    """API keys for the routes and the auth gate: list, create, revoke (the cache forgets at once), authenticate,
    and audit a refused request."""

    def __init__(self, engine: Engine, cache_s: float = 5.0) -> None:
        self.engine = engine
        self.store = KeyStore(engine, cache_s)

    async def listing(self, *, include_revoked: bool = False) -> list[dict[str, Any]]:
        return await asyncio.to_thread(key_store.listing, self.engine, include_revoked=include_revoked)

    async def create(self, *, role: str, name: str, actor: str, rate_per_s: float | None = None,
                     burst: int | None = None) -> tuple[str, dict[str, Any]]:
        """(the key, its row): the key exists only in this answer, only its sha256 is stored."""
        return await asyncio.to_thread(create_key, self.engine, role=role, name=name, actor=actor,
                                       rate_per_s=rate_per_s, burst=burst)

    async def revoke(self, key_id: str, *, actor: str, reason: str = "") -> dict[str, Any]:
        row = await asyncio.to_thread(revoke_key, self.engine, key_id, actor=actor, reason=reason)
        self.store.forget()  # refused at once in this process; other replicas within STUDIO_KEY_CACHE_S
        return row

    async def authenticate(self, key: str) -> Principal | None:
        cached, principal = self.store.peek(key)
        if cached:
            return principal
        return await asyncio.to_thread(self.store.lookup, key)

    async def audit_denied(self, actor: str, route: str, payload: dict[str, Any]) -> None:
        """An `access.denied` audit event (the refusal stands even if it cannot be written)."""
        record = AuditRecord(actor, "access.denied", "route", route, payload)

        def write() -> None:
            with write_tx(self.engine) as conn:
                append(conn, [record])

        try:
            await asyncio.to_thread(write)
        except Exception:
            log.exception("could not audit a denied request")
