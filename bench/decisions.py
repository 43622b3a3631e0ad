"""Decision benchmark: the real server on 127.0.0.1 with the default SQLite store, the `peg` profile and its
full lineup, driven by concurrent HTTP clients. Prints one JSON line.

    python -m bench.decisions        (or: make bench)

single_p50_ms / single_p99_ms   concurrency 1
concurrent_rps / concurrent_p99_ms   concurrency 64
batch_rows_per_s               1,000-event batches over HTTP
inproc_p50_ms                  the same single decision in-process, without HTTP or database (the floor),
                               on streams warmed up and fitted like the server's
batch_inproc_rows_per_s        1,000-event batches through the same graph in-process, without HTTP or database:
                               the batch phase's floor (every decision built in full, nothing written)
concurrent_server_cores        CPU the server process used during the concurrent phase, in cores
batch_server_cores             ... during the batch phase
batch_server_cpu_us_per_row    the server's CPU per decision in the batch phase (all its threads; 2 cores at
                               10,000 rows/s leave at most 200 us)
rss_mb                         the server's peak resident memory
children_rss_mb                its child processes' (the stream-fit process), summed
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from bench.http_client import Connection, dumps
from studio import PROJECT_ROOT

STREAMS = ["USDC", "USDT", "DAI", "UST"]
BATCH_ROWS = 1000  # events per request in the batch phase
API_KEY = ""  # the server's first admin key (read from its var dir once it is up)


def connect(port: int) -> Connection:
    """The benchmark's keep-alive client, sending the API key (every decision route requires one)."""
    return Connection("127.0.0.1", port, api_key=API_KEY)


def price_paths(n: int) -> dict[str, np.ndarray]:
    """Real daily closes of the four coins (cycled), so each stream looks like its coin."""
    out = {}
    for coin in STREAMS:
        closes = pd.read_csv(PROJECT_ROOT / "data" / "stablecoin" / f"{coin}_daily.csv")["close"].to_numpy()
        closes = closes[np.isfinite(closes) & (closes > 0.5)]
        out[coin] = np.resize(closes, n)
    return out


class EventSource:
    def __init__(self, prefix: str) -> None:
        self.paths = price_paths(20_000)
        self.i = {s: 0 for s in STREAMS}
        self.prefix = prefix
        self.t0 = 1_750_000_000

    def next(self, stream: str) -> dict[str, object]:
        i = self.i[stream]
        self.i[stream] += 1
        return {"profile": "peg", "stream": f"{self.prefix}-{stream}", "timestamp": self.t0 + 3600 * i,
                "value": float(self.paths[stream][i % len(self.paths[stream])]), "context": {"token": stream}}


def pct(xs: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(xs), q)), 2)


async def single(port: int, src: EventSource, n: int) -> list[float]:
    c = await connect(port).open()
    lat = []
    for k in range(n):
        status, _, ms = await c.post("/v1/decisions", dumps(src.next(STREAMS[k % 4])))
        assert status == 200, status
        lat.append(ms)
    await c.close()
    return lat


async def concurrent(port: int, src: EventSource, clients: int, seconds: float) -> tuple[float, list[float]]:
    lat: list[float] = []
    stop = time.perf_counter() + seconds
    count = 0

    async def worker(k: int) -> None:
        nonlocal count
        c = await connect(port).open()
        stream = STREAMS[k % 4]
        while time.perf_counter() < stop:
            status, _, ms = await c.post("/v1/decisions", dumps(src.next(stream)))
            assert status == 200, status
            lat.append(ms)
            count += 1
        await c.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(clients)))
    return count / (time.perf_counter() - start), lat


async def batches(port: int, src: EventSource, n_batches: int) -> float:
    c = await connect(port).open()
    rows, start = 0, time.perf_counter()
    for b in range(n_batches):
        events = [src.next(STREAMS[(b + k) % 4]) for k in range(BATCH_ROWS)]
        status, _, _ = await c.post("/v1/decisions:batch", dumps({"events": events}))
        assert status == 200, status
        rows += len(events)
    await c.close()
    return rows / (time.perf_counter() - start)


async def inproc(var: Path, models: Path, n: int, n_batches: int) -> tuple[list[float], float]:
    """The same single decisions through the graph in this process, without HTTP or database; then 1,000-event
    batches the same way (rows per second)."""
    from core.events import Event
    from core.settings import Settings
    from studio.bootstrap import build_studio, start, stop

    st = build_studio(Settings(var_dir=var, models_dir=models, train_on_start=False, maintenance_interval_s=0),
                      train=False)
    await start(st)
    rt = st.runtimes["peg"]
    ctx = st.context(rt)
    ctx.writer = None
    src = EventSource("inproc")

    def event(k: int) -> Event:
        e: dict[str, Any] = src.next(STREAMS[k % 4])
        return Event(profile="peg", stream=str(e["stream"]), ts=float(e["timestamp"]), value=float(e["value"]),
                     features={}, context=dict(e["context"]), index=k)

    async def decide(k: int) -> float:
        ev = event(k)
        t = time.perf_counter()
        await st.graph.ainvoke({"events": [ev], "batch_id": "bench"}, context=ctx)
        return (time.perf_counter() - t) * 1000

    # The same warm-up as the server's: the streams' statistical forecasters must be fitted (in the stream-fit
    # process) before measuring, or the floor would be decisions with ARIMA, ETS and Prophet still warming up.
    for k in range(200):
        await decide(k)
    assert rt.streams is not None
    deadline = time.perf_counter() + 180.0
    while not all((s := rt.streams.peek(f"inproc-{name}")) is not None and s.fit is not None for name in STREAMS):
        if time.perf_counter() > deadline:
            raise SystemExit("in-process bench streams not fitted within 180 s")
        await asyncio.sleep(0.5)
        for k in range(4):
            await decide(k)  # a batch installs the fits that finished meanwhile
    lat = [await decide(k) for k in range(n)]
    elapsed = 0.0
    for b in range(n_batches):
        evs = [event(b + k) for k in range(BATCH_ROWS)]
        t = time.perf_counter()
        await st.graph.ainvoke({"events": evs, "batch_id": "bench"}, context=ctx)
        elapsed += time.perf_counter() - t
    await stop(st)
    return lat, n_batches * BATCH_ROWS / elapsed


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Cores a process used over a phase: its CPU seconds over the wall-clock seconds."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.cpu, self.wall = cpu_s(pid), time.perf_counter()

    def done(self) -> tuple[float, float]:
        """(cores, CPU seconds) since construction."""
        used = cpu_s(self.pid) - self.cpu
        return round(used / (time.perf_counter() - self.wall), 2), used


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def children_peak_rss_mb(pid: int) -> float:
    """The server's child processes (the stream-fit process, multiprocessing's resource tracker), summed."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a child that just exited
                total += peak_rss_mb(int(child))
    return round(total, 1)


def batcher_counts(port: int) -> tuple[int, int]:
    """(batches, events) the peg micro-batcher has run so far, from /v1/health."""
    r = httpx.get(f"http://127.0.0.1:{port}/v1/health", headers={"authorization": f"Bearer {API_KEY}"}, timeout=10)
    b = r.json().get("batcher", {}).get("peg", {})
    return int(b.get("batches", 0)), int(b.get("events", 0))


def wait_fitted(port: int, src: EventSource, timeout_s: float = 180.0) -> None:
    """Until every bench stream's warm-up fit is installed (computed in the server's stream-fit process, which
    starts on the first fit): the measured phases should not include that one-time start."""
    deadline = time.perf_counter() + timeout_s
    headers = {"authorization": f"Bearer {API_KEY}"}
    while time.perf_counter() < deadline:
        asyncio.run(single(port, src, 4))  # a batch installs the fits that finished meanwhile
        fitted = [httpx.get(f"http://127.0.0.1:{port}/v1/streams/peg/{src.prefix}-{s}", headers=headers,
                            timeout=10).json().get("fitted") for s in STREAMS]
        if all(fitted):
            return
        time.sleep(0.5)
    raise SystemExit(f"bench streams not fitted within {timeout_s:.0f} s")


def _lineup_size() -> int:
    from core.profiles import load_profiles

    peg = load_profiles(PROJECT_ROOT / "profiles")["peg"]
    return len(peg.models.all())  # the base models the graph fans out to (the meta-classifier is not counted)


def ensure_trained(var: Path) -> None:
    from core.settings import Settings
    from studio.bootstrap import open_base, train_missing

    st = open_base(Settings(var_dir=var, train_on_start=False))
    train_missing(st, progress=True)
    st.engine.dispose()


def main() -> None:
    global API_KEY
    p = argparse.ArgumentParser(description="decision benchmark (prints one JSON line)")
    p.add_argument("--single", type=int, default=600)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--batches", type=int, default=30)  # 10 proved too short to separate changes of ~10%
    args = p.parse_args()
    project_var = PROJECT_ROOT / "var"
    ensure_trained(project_var)
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as tmp:
        var = Path(tmp)
        shutil.copy(project_var / "studio.db", var / "studio.db")
        env = {**os.environ, "STUDIO_VAR_DIR": str(var), "STUDIO_MODELS_DIR": str(project_var / "models"),
               "STUDIO_LOG_LEVEL": "WARNING", "STUDIO_PORT": "8765", "STUDIO_MAINTENANCE_INTERVAL_S": "0",
               # the benchmark measures the decision path, not the per-key limiter
               "STUDIO_RATE_LIMIT_PER_S": "1000000", "STUDIO_RATE_LIMIT_BURST": "1000000"}
        server = subprocess.Popen([sys.executable, "-m", "studio.cli", "serve", "--no-train"], cwd=PROJECT_ROOT,
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                try:
                    if httpx.get("http://127.0.0.1:8765/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            API_KEY = (var / "admin.key").read_text().strip()
            src = EventSource("bench")
            asyncio.run(single(8765, src, 200))  # warm-up: streams fitted, caches hot
            wait_fitted(8765, src)
            time.sleep(3)
            asyncio.run(single(8765, src, 8))
            lat1 = asyncio.run(single(8765, src, args.single))
            b0 = batcher_counts(8765)
            meter = CpuMeter(server.pid)
            rps, latc = asyncio.run(concurrent(8765, src, args.clients, args.seconds))
            conc_cores, _ = meter.done()
            b1 = batcher_counts(8765)
            meter = CpuMeter(server.pid)
            rows = asyncio.run(batches(8765, src, args.batches))
            batch_cores, batch_cpu = meter.done()
            rss = peak_rss_mb(server.pid)
            child_rss = children_peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        lat_in, rows_in = asyncio.run(inproc(var, project_var / "models", args.single, args.batches))
    result = {
        "single_p50_ms": pct(lat1, 50), "single_p99_ms": pct(lat1, 99),
        "concurrent_rps": round(rps, 1), "concurrent_p99_ms": pct(latc, 99), "concurrent_p50_ms": pct(latc, 50),
        "concurrent_mean_batch": round((b1[1] - b0[1]) / max(b1[0] - b0[0], 1), 1),
        "concurrent_server_cores": conc_cores,
        "batch_rows_per_s": round(rows, 1), "batch_server_cores": batch_cores,
        "batch_server_cpu_us_per_row": round(batch_cpu / (args.batches * BATCH_ROWS) * 1e6),
        "inproc_p50_ms": round(statistics.median(lat_in), 2),
        "single_over_inproc": round(pct(lat1, 50) / statistics.median(lat_in), 2),
        "batch_inproc_rows_per_s": round(rows_in, 1), "rss_mb": rss,
        "children_rss_mb": child_rss,
        "profile": "peg", "models": _lineup_size(), "clients": args.clients, "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
