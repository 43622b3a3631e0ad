"""Time-sortable identifiers (ULID: 48-bit milliseconds + 80 random bits, Crockford base32)."""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Ids need uniqueness, not secrecy: one urandom seed per process, then a fast generator (os.urandom per id
# costs ~0.4 ms on some virtual machines).
_rng = random.Random(os.urandom(16))


_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # 10 bits -> two characters


def ulid() -> str:
    value = (int(time.time() * 1000) << 80) | _rng.getrandbits(80)  # 128 bits, written as 26 characters
    return "".join(_PAIRS[(value >> shift) & 1023] for shift in range(120, -1, -10))


def new_id(prefix: str) -> str:
    return f"{prefix}_{ulid()}"


def new_ids(prefix: str, n: int) -> list[str]:
    """n ids at once, as new_id would give them within one millisecond: the first ten characters (the 48-bit
    time) are written once, then each id's 80 random bits as eight pairs (a decision batch: 1.1 us per id
    instead of 4.5)."""
    head = f"{prefix}_" + "".join(_PAIRS[(int(time.time() * 1000) << 80 >> shift) & 1023]
                                  for shift in range(120, 79, -10))
    p, bits = _PAIRS, _rng.getrandbits
    out = []
    for _ in range(n):
        r = bits(80)
        out.append(head + p[r >> 70] + p[r >> 60 & 1023] + p[r >> 50 & 1023] + p[r >> 40 & 1023]
                   + p[r >> 30 & 1023] + p[r >> 20 & 1023] + p[r >> 10 & 1023] + p[r & 1023])
    return out


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_iso(dt: datetime | None) -> str | None:
    """`iso` of a time given by a caller, a naive one read as UTC; None stays None."""
    return None if dt is None else iso(dt if dt.tzinfo else dt.replace(tzinfo=UTC))


def now_iso() -> str:
    return iso(utcnow())
