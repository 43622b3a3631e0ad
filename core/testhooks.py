"""Named pause points for crash tests: `STUDIO_TEST_PAUSE_AT=name[:n]` stops the n-th arrival at `name` (default
the first), prints `pause-point <name>` on stderr and sleeps, so a test can kill -9 the process exactly there.
Unset (always, outside tests) a pause point costs one environment lookup."""

from __future__ import annotations

import os
import sys
import time

ENV = "STUDIO_TEST_PAUSE_AT"
_seen: dict[str, int] = {}


def pause_point(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] != (int(nth) if nth.isdigit() else 1):
        return
    print(f"pause-point {name}", file=sys.stderr, flush=True)
    while True:  # until the test kills this process
        time.sleep(3600)
