"""Signed checkpoints of the audit chain's head (HMAC-SHA256, key kept outside the database), in a table and in a
file next to the key, so that deleting the newest events, or the checkpoints themselves, is found by verify."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, select

from store.audit import AUDIT
from store.bulk import fetch_one
from store.engine import write_tx
from store.ids import now_iso
from store.tables import AuditCheckpointRow

CHECKPOINTS = AuditCheckpointRow.__table__  # type: ignore[attr-defined]
PAGE = 1000
MAX_REPORTED = 10
_FIELDS = ("seq", "hash", "created_at", "source", "key_id", "mac")


@dataclass(frozen=True)
class Signer:
    """Signs and checks checkpoints with one secret key."""

    key: bytes

    @property
    def key_id(self) -> str:
        """A fingerprint naming the key in each checkpoint (reveals nothing of it)."""
        return hmac.new(self.key, b"studio-audit-key-id", hashlib.sha256).hexdigest()[:16]

    def mac(self, seq: int, hash_: str, created_at: str, source: str) -> str:
        material = "\x1f".join(["studio-audit-checkpoint/v1", str(seq), hash_, created_at, source])
        return hmac.new(self.key, material.encode(), hashlib.sha256).hexdigest()

    def sign(self, seq: int, hash_: str, source: str) -> dict[str, Any]:
        at = now_iso()
        return {"seq": seq, "hash": hash_, "created_at": at, "source": source, "key_id": self.key_id,
                "mac": self.mac(seq, hash_, at, source)}

    def problem(self, cp: Any) -> str | None:
        """None when the checkpoint's HMAC is right, else why it is not."""
        try:
            expected = self.mac(int(cp["seq"]), str(cp["hash"]), str(cp["created_at"]), str(cp["source"]))
        except (KeyError, TypeError, ValueError):
            return "malformed checkpoint"
        if hmac.compare_digest(str(cp["mac"]), expected):
            return None
        if cp["key_id"] != self.key_id:
            return (f"HMAC does not verify: signed with another key (key id {cp['key_id']!r}, this one is "
                    f"{self.key_id!r}), or altered")
        return "HMAC does not verify: the checkpoint was altered"


def database_ident(engine: Engine) -> str:
    """Which database a checkpoint file entry belongs to (its URL without the password)."""
    return engine.url.render_as_string(hide_password=True)


class HeadFile:
    """The latest checkpoint per database, as JSON in a file next to the key (mode 0600, replaced atomically)."""

    def __init__(self, path: Path, ident: str) -> None:
        self.path = path
        self.ident = ident

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        data = orjson.loads(self.path.read_bytes())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data

    def read(self) -> tuple[dict[str, Any] | None, str | None]:
        """(this database's checkpoint or None, a problem reading the file or None)."""
        try:
            entry = self._load().get(self.ident)
        except (OSError, ValueError) as exc:
            return None, f"checkpoint file {self.path.name} is unreadable: {type(exc).__name__}"
        if entry is not None and not isinstance(entry, dict):
            return None, f"checkpoint file {self.path.name}: malformed entry"
        return entry, None

    def write(self, cp: dict[str, Any]) -> None:
        """Keep cp unless the file holds a later checkpoint of this database."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            try:
                data = self._load()
            except ValueError:
                data = {}  # an unreadable file is replaced (verify reported it)
            old = data.get(self.ident)
            if isinstance(old, dict) and isinstance(old.get("seq"), int) and old["seq"] > cp["seq"]:
                return
            data[self.ident] = {k: cp[k] for k in _FIELDS}
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.path.with_name(f".{self.path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def chain_head(conn: Connection) -> tuple[int, str] | None:
    row = fetch_one(conn, "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
    return (int(row[0]), str(row[1])) if row else None


def record(engine: Engine, signer: Signer, head_file: HeadFile | None, source: str) -> dict[str, Any] | None:
    """Sign the chain's head into the table (unless our latest checkpoint holds it already) and the file; returns
    the head's checkpoint, or None while the chain is empty."""
    with write_tx(engine) as conn:
        head = chain_head(conn)
        if head is None:
            return None
        last = conn.execute(select(CHECKPOINTS).order_by(CHECKPOINTS.c.seq.desc(), CHECKPOINTS.c.id.desc())
                            .limit(1)).mappings().first()
        if last is not None and int(last["seq"]) == head[0] and signer.problem(last) is None:
            cp = dict(last)
        else:
            cp = signer.sign(head[0], head[1], source)
            conn.execute(CHECKPOINTS.insert().values(**cp))
    if head_file is not None:
        head_file.write(cp)
    return cp


def event_hashes(conn: Connection, seqs: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(seqs))
    if not wanted:
        return {}
    q = select(AUDIT.c.seq, AUDIT.c.hash).where(AUDIT.c.seq.in_(wanted))
    return {int(s): str(h) for s, h in conn.execute(q)}


def _against_chain(cp: Any, hashes: dict[int, str], last_seq: int) -> str | None:
    seq = int(cp["seq"])
    if seq in hashes:
        if hashes[seq] != cp["hash"]:
            return f"event {seq} no longer has the checkpointed hash: the chain was rewritten at or before it"
        return None
    return f"event {seq} is missing" if seq <= last_seq else None  # beyond the end: truncation (reported apart)


def check(engine: Engine, signer: Signer, head_file: HeadFile | None, last_seq: int) -> dict[str, Any]:
    """Every checkpoint in the table (in pages) and the file's: HMAC, and the chain still holding its hash.
    `truncated` is set when a valid checkpoint lies beyond the chain's last event (`last_seq`)."""
    bad: list[dict[str, Any]] = []
    bad_count = checked = 0
    latest: dict[str, Any] | None = None

    def judge(cp: Any, signed: bool, problem: str | None, where: str) -> None:
        """`signed`: its HMAC verifies (then it counts for truncation even if something else is wrong)."""
        nonlocal bad_count, latest
        if problem is not None:
            bad_count += 1
            if len(bad) < MAX_REPORTED:
                bad.append({"id": cp.get("id"), "seq": cp.get("seq"), "created_at": cp.get("created_at"),
                            "in": where, "reason": problem})
        if signed and (latest is None or int(cp["seq"]) > latest["seq"]):
            latest = {"seq": int(cp["seq"]), "hash": cp["hash"], "created_at": cp["created_at"], "in": where}

    with engine.connect() as conn:
        after = 0
        while True:
            rows = conn.execute(select(CHECKPOINTS).where(CHECKPOINTS.c.id > after).order_by(CHECKPOINTS.c.id)
                                .limit(PAGE)).mappings().all()
            if not rows:
                break
            after = int(rows[-1]["id"])
            hashes = event_hashes(conn, (int(r["seq"]) for r in rows))
            for r in rows:
                checked += 1
                forged = signer.problem(r)
                judge(r, forged is None, forged or _against_chain(r, hashes, last_seq), "table")
        file_report: dict[str, Any] | None = None
        if head_file is not None:
            entry, unreadable = head_file.read()
            file_report = {"name": head_file.path.name, "seq": entry.get("seq") if entry else None}
            if unreadable is not None:
                judge({}, False, unreadable, "file")
            elif entry is not None:
                forged = signer.problem(entry)
                problem = forged or _against_chain(entry, event_hashes(conn, [int(entry["seq"])]), last_seq)
                if problem is None and conn.execute(select(CHECKPOINTS.c.id).where(
                        CHECKPOINTS.c.seq == int(entry["seq"]), CHECKPOINTS.c.mac == entry["mac"])).first() is None:
                    problem = "in the checkpoint file but not in the table: checkpoint rows were deleted"
                judge(entry, forged is None, problem, "file")
    truncated = None
    if latest is not None and latest["seq"] > last_seq:
        truncated = {"from_seq": last_seq + 1, "to_seq": latest["seq"], "checkpoint_at": latest["created_at"],
                     "reason": f"events {last_seq + 1}..{latest['seq']} were signed in a checkpoint and are gone"}
    return {"checked": checked, "key_id": signer.key_id, "latest": latest, "bad": bad, "bad_count": bad_count,
            "file": file_report, "truncated": truncated}
