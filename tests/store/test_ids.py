"""Decision ids: a batch's ids written at once are the ids new_id would have given."""

from __future__ import annotations

import pytest

import store.ids as ids


def test_new_ids_equal_new_id_for_the_same_millisecond_and_random_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids.time, "time", lambda: 1_763_000_000.123)
    state = ids._rng.getstate()
    one_by_one = [ids.new_id("dec") for _ in range(500)]
    ids._rng.setstate(state)
    assert ids.new_ids("dec", 500) == one_by_one
    assert ids.new_ids("dec", 0) == []


def test_new_ids_are_unique_well_formed_and_sort_by_time(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_763_000_000.0]
    monkeypatch.setattr(ids.time, "time", lambda: now[0])
    first = ids.new_ids("dec", 2000)
    now[0] += 0.001
    later = ids.new_ids("dec", 10)
    assert len(set(first + later)) == 2010
    assert all(len(i) == 30 and i.startswith("dec_") and set(i[4:]) <= set(ids._ALPHABET) for i in first + later)
    assert max(first) < min(later)  # the time comes first
