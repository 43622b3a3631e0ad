"""The alarm stage: turns a stream's continuous anomaly score into alarms, deterministically.

A point alarms when its score reaches the profile's `alarm.threshold`, it starts a run of such points (the
previous point was below), and it comes more than `alarm.refractory` points after the stream's previous
alarm. So a stream reports the start of something unusual once, then stays quiet for the refractory period
instead of paging on every point of the same episode. The state (position of the last alarm, whether the
previous point was above) is persisted with the stream; `bench.nab` runs the same function offline.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def alarm_points(scores: Iterable[float], positions: Iterable[int], state: dict[str, Any], *, threshold: float,
                 refractory: int) -> tuple[list[bool], dict[str, Any]]:
    """Alarm flags for one stream's points in order, and the stream's alarm state after them."""
    last, above = state.get("last"), bool(state.get("above", False))
    flags = []
    for s, pos in zip(scores, positions, strict=True):
        now_above = s >= threshold
        fire = now_above and not above and (last is None or pos - last > refractory)
        if fire:
            last = int(pos)
        flags.append(fire)
        above = now_above
    return flags, {"last": last, "above": above}
