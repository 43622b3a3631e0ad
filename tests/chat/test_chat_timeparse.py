"""Time ranges analysts write, parsed deterministically (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graph.chat_timeparse import parse_range

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "start", "end"), [
    ("what happened to USDC between 06:00 and 09:00 on 11 March?", "2023-03-11T06:00", "2023-03-11T09:01"),
    ("USDC on 2023-03-11", "2023-03-11T00:00", "2023-03-12T00:00"),
    ("March 11, 2023 at 7:00 pm", "2023-03-11T19:00", "2023-03-11T20:00"),
    ("alerts last week", "2026-11-15T12:00", "2026-11-22T12:00"),
    ("in the last 6 hours", "2026-11-22T06:00", "2026-11-22T12:00"),
    ("yesterday", "2026-11-21T00:00", "2026-11-22T00:00"),
])
def test_ranges(text: str, start: str, end: str) -> None:
    got = parse_range(text, NOW, year_hint=2023)
    assert got is not None
    assert got[0].strftime("%Y-%m-%dT%H:%M") == start and got[1].strftime("%Y-%m-%dT%H:%M") == end


def test_no_time() -> None:
    assert parse_range("why was this raised?", NOW) is None
