"""Small deterministic parser for the time ranges analysts write ("between 06:00 and 09:00 on 11 March",
"last week", "on 2023-03-11", "yesterday"). All times are UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

MONTHS = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
     "december"])}
MONTHS.update({k[:3]: v for k, v in list(MONTHS.items())})
_MON = "|".join(sorted(MONTHS, key=len, reverse=True))
DATE_DM = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MON})\.?(?:,?\s+(\d{{4}}))?\b", re.I)
DATE_MD = re.compile(rf"\b({_MON})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.I)
DATE_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
TIME = re.compile(r"\b(\d{1,2}):(\d{2})\s*(am|pm)?\b", re.I)
LAST_N = re.compile(r"\b(?:last|past)\s+(\d+)\s+(hour|day|week)s?\b", re.I)


def _date(text: str) -> tuple[int | None, int, int] | None:
    """(year or None, month, day) of the first date written in the text."""
    if m := DATE_ISO.search(text):
        return int(m[1]), int(m[2]), int(m[3])
    if m := DATE_DM.search(text):
        return (int(m[3]) if m[3] else None), MONTHS[m[2].lower()], int(m[1])
    if m := DATE_MD.search(text):
        return (int(m[3]) if m[3] else None), MONTHS[m[1].lower()], int(m[2])
    return None


def _times(text: str) -> list[tuple[int, int]]:
    out = []
    for m in TIME.finditer(text):
        h, mi = int(m[1]), int(m[2])
        if m[3] and m[3].lower() == "pm" and h < 12:
            h += 12
        if m[3] and m[3].lower() == "am" and h == 12:
            h = 0
        out.append((h, mi))
    return out


def parse_range(text: str, now: datetime, year_hint: int | None = None) -> tuple[datetime, datetime] | None:
    """[start, end) in UTC, or None when the text names no time."""
    low = text.lower()
    if m := LAST_N.search(low):
        unit = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}[m[2]]
        return now - int(m[1]) * unit, now
    if "last week" in low or "past week" in low:
        return now - timedelta(days=7), now
    if "last month" in low:
        return now - timedelta(days=30), now
    if "yesterday" in low:
        start = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    if "last night" in low:
        start = (now - timedelta(days=1)).replace(hour=18, minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=12)
    if "today" in low:
        return now.replace(hour=0, minute=0, second=0, microsecond=0), now
    d = _date(text)
    if d is None:
        return None
    year = d[0] or year_hint or now.year
    day = datetime(year, d[1], d[2], tzinfo=UTC)
    times = _times(text)
    if len(times) >= 2:
        start = day.replace(hour=times[0][0], minute=times[0][1])
        end = day.replace(hour=times[1][0], minute=times[1][1])
        return (start, end + timedelta(minutes=1)) if end >= start else (start, end + timedelta(days=1))
    if len(times) == 1:
        start = day.replace(hour=times[0][0], minute=times[0][1])
        return start, start + timedelta(hours=1)
    return day, day + timedelta(days=1)


def month_day(text: str) -> tuple[int, int] | None:
    d = _date(text)
    return None if d is None else (d[1], d[2])


def has_year(text: str) -> bool:
    d = _date(text)
    return d is not None and d[0] is not None
