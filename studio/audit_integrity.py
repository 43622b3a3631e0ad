"""The audit trail's completeness: the checkpoint key (STUDIO_AUDIT_KEY, else a 0600 file in the var dir),
periodic and shutdown checkpoints, `anchor` (the head to record elsewhere) and verify with an expected head."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core.errors import ValidationFailed
from core.settings import Settings
from store.audit import GENESIS
from store.audit_checkpoints import HeadFile, Signer, database_ident, record
from store.audit_verify import verify as verify_all
from studio import PROJECT_ROOT

log = logging.getLogger(__name__)
MIN_KEY_CHARS = 32
HEAD_RE = re.compile(r"^(\d{1,18}):([0-9a-f]{64})$")
HEAD_FILE = "audit_checkpoints.json"


def key_path(settings: Settings) -> Path:
    path = settings.audit_key_file or settings.var_dir / "audit.key"
    return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()


def signer(settings: Settings) -> Signer:
    """The key from STUDIO_AUDIT_KEY, else from the key file (created with mode 0600 on first use)."""
    if settings.audit_key is not None:
        key = settings.audit_key.get_secret_value().strip()
        if len(key) < MIN_KEY_CHARS:
            raise ValidationFailed(f"STUDIO_AUDIT_KEY must be at least {MIN_KEY_CHARS} characters")
        return Signer(key.encode())
    path = key_path(settings)
    if not path.exists():
        _create_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("audit key file %s is readable by others (mode %o): chmod 600 it", path, mode)
    key = path.read_text().strip()
    if len(key) < MIN_KEY_CHARS:
        raise ValidationFailed(f"audit key file {path} holds fewer than {MIN_KEY_CHARS} characters")
    return Signer(key.encode())


def _create_key_file(path: Path) -> None:
    """Write a new key to a private temporary file and link it into place: of two processes starting at once,
    one key wins and both use it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def head_file(settings: Settings, engine: Engine) -> HeadFile:
    """The latest checkpoint per database, next to the key file (in the var dir when the key is a setting)."""
    folder = settings.var_dir if settings.audit_key is not None else key_path(settings).parent
    return HeadFile(folder / HEAD_FILE, database_ident(engine))


def checkpoint(settings: Settings, engine: Engine, source: str) -> dict[str, Any] | None:
    """Sign the chain's head now (table and file); None while the chain is empty."""
    return record(engine, signer(settings), head_file(settings, engine), source)


def anchor(settings: Settings, engine: Engine) -> str:
    """`SEQ:HASH` of the chain's head, to record outside this machine; it is checkpointed too."""
    cp = checkpoint(settings, engine, "anchor")
    return f"0:{GENESIS}" if cp is None else f"{cp['seq']}:{cp['hash']}"


def parse_head(text: str) -> tuple[int, str]:
    m = HEAD_RE.match(text.strip().lower())
    if m is None:
        raise ValidationFailed("expect_head must be SEQ:HASH (a sequence number, a colon, 64 hex digits) as "
                               "printed by `studio audit anchor`", details={"expect_head": text[:200]})
    return int(m.group(1)), m.group(2)


def verify(settings: Settings, engine: Engine, expect_head: tuple[int, str] | str | None = None) -> dict[str, Any]:
    """Chain, decision rows, signed checkpoints (truncation) and, if given, the head recorded elsewhere."""
    expected = parse_head(expect_head) if isinstance(expect_head, str) else expect_head
    return verify_all(engine, signer=signer(settings), head_file=head_file(settings, engine), expect_head=expected)


async def run(settings: Settings, engine: Engine, interval_s: float) -> None:
    """Checkpoint the head at start and every interval_s while the server runs (stop() writes the last one)."""
    while True:
        try:
            await asyncio.to_thread(checkpoint, settings, engine, "periodic")
        except Exception:  # retried next tick; verify still proves order, and the next checkpoint catches up
            log.exception("audit checkpoint failed")
        await asyncio.sleep(interval_s)


def checkpoint_on_shutdown(settings: Settings, engine: Engine) -> None:
    try:
        checkpoint(settings, engine, "shutdown")
    except Exception:
        log.exception("audit checkpoint on shutdown failed")
