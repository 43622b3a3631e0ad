"""Replay a CSV through the decision graph in-process, causally, without touching the service's state."""

from __future__ import annotations

import asyncio
import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.domain import Decision
from core.errors import ValidationFailed
from core.events import Event, validate_event
from core.profiles import Profile
from graph.context import DecisionContext
from models.bundle import load_bundle
from models.datasets import read_timestamps
from runtime.profile_runtime import ProfileRuntime, RouterRuntime
from runtime.streams import StreamManager
from studio.bootstrap import Studio
from studio.runtimes import load_router

BATCH = 256


@dataclass
class ReplaySummary:
    rows: int
    seconds: float
    probation: int
    actions: dict[str, int]
    output: str


def probation_rows(n: int) -> int:
    """NAB's probationary period: the first 15% of the rows, at most 750."""
    return max(1, min(int(0.15 * n), 750))


def replay_runtime(studio: Studio, profile: Profile, probation: int) -> ProfileRuntime:
    """A private runtime: same active models and router, fresh in-memory streams, nothing persisted."""
    streams = None
    if profile.is_stream:
        streams = StreamManager(profile, None, refit_every=studio.settings.stream_refit_every, executor=None,
                                warmup=probation)
    live = load_router(studio.engine, studio.registry, profile)
    router = RouterRuntime(state=live.state, version=live.version, rng=np.random.default_rng(0))
    return ProfileRuntime(profile=profile, pack=studio.packs[profile.name], bundle=load_bundle(profile, studio.registry),
                          router=router, streams=streams)


def read_events(profile: Profile, path: Path, stream: str | None, value_col: str,
                ts_col: str) -> tuple[list[Event], list[Any]]:
    df = pd.read_csv(path)
    if profile.is_stream:
        missing = [c for c in (ts_col, value_col) if c not in df.columns]
        if missing:
            raise ValidationFailed(f"{path.name} lacks columns {missing}", details={"columns": list(df.columns)})
        ts = read_timestamps(df[ts_col], "s" if pd.api.types.is_numeric_dtype(df[ts_col]) else "iso")
        name = stream or path.stem
        values = df[value_col].astype(float).to_numpy()
        events = [Event(profile=profile.name, stream=name, ts=float(t), value=float(v), features={}, context={},
                        index=i) for i, (t, v) in enumerate(zip(ts, values, strict=True))]
        keys = list(df[ts_col])
    else:
        names = [f.name for f in profile.fields]
        events = []
        for i, row in enumerate(df.to_dict("records")):
            feats = {n: (None if row.get(n) is None or (isinstance(row[n], float) and math.isnan(row[n]))
                         else float(row[n])) for n in names if n in row}
            events.append(Event(profile=profile.name, stream=None, ts=None, value=None,
                                features={k: v for k, v in feats.items() if v is not None}, context={}, index=i))
        keys = list(df["ID"]) if "ID" in df.columns else list(range(len(df)))
    for ev in events:
        validate_event(profile, ev)
    return events, keys


def replay(studio: Studio, profile: Profile, input_csv: Path, output_csv: Path, *, stream: str | None = None,
           value_col: str = "value", ts_col: str = "timestamp", progress: bool = True) -> ReplaySummary:
    from tqdm.auto import tqdm

    from graph.decision import build_decision_graph

    events, keys = read_events(profile, input_csv, stream, value_col, ts_col)
    probation = probation_rows(len(events)) if profile.is_stream else 0
    rt = replay_runtime(studio, profile, probation)
    graph = studio.graph or build_decision_graph()
    ctx = DecisionContext(runtime=rt, lookups=None, writer=None, executor=None, tool_timeout_s=60.0, explore=False)
    bounds = sorted({0, probation, len(events), *range(0, len(events), BATCH)} - {len(events)}) + [len(events)]
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()

    async def run() -> None:
        with tqdm(total=len(events), desc=f"replay {profile.name}", unit="row", disable=not progress) as bar:
            for a, b in zip(bounds, bounds[1:], strict=False):
                if a == b:
                    continue
                out = await graph.ainvoke({"events": events[a:b], "batch_id": f"replay-{a}"}, context=ctx)
                rows.extend(out_row(profile, keys[a + j], d) for j, d in enumerate(out["decisions"]))
                bar.update(b - a)

    asyncio.run(run())
    write_rows(output_csv, rows)
    actions: dict[str, int] = {}
    for r in rows:
        actions[r["action"]] = actions.get(r["action"], 0) + 1
    return ReplaySummary(rows=len(rows), seconds=round(time.perf_counter() - start, 2), probation=probation,
                         actions=actions, output=str(output_csv))


def replay_tree(studio: Studio, profile: Profile, input_dir: Path, output_dir: Path, *, value_col: str = "value",
                ts_col: str = "timestamp", progress: bool = True) -> dict[str, Any]:
    """Replay every CSV under input_dir (each file its own new stream) into the same relative paths."""
    files = sorted(input_dir.rglob("*.csv"))
    if not files:
        raise ValidationFailed(f"no CSV files under {input_dir}")
    start = time.perf_counter()
    summaries = {}
    for path in files:
        rel = path.relative_to(input_dir)
        s = replay(studio, profile, path, output_dir / rel, stream=str(rel.with_suffix("")).replace("/", "."),
                   value_col=value_col, ts_col=ts_col, progress=progress)
        summaries[str(rel)] = {"rows": s.rows, "seconds": s.seconds, "actions": s.actions}
    return {"files": len(files), "rows": sum(s["rows"] for s in summaries.values()),
            "seconds": round(time.perf_counter() - start, 2), "output": str(output_dir), "per_file": summaries}


def out_row(profile: Profile, key: Any, d: Decision) -> dict[str, Any]:
    base: dict[str, Any]
    if profile.is_stream:
        base = {"timestamp": key, "value": d["inputs"]["value"], "anomaly_score": d["score"],
                "alarm": int(bool(d["combine"].get("alarm", False)))}
    else:
        base = {"id": key, "score": d["score"]}
    base.update({"severity": d["severity"], "action": d["action"], "label": d["label"], "arm": d["router"]["arm"],
                 "rules": ";".join(r["rule"] for r in d["rules"])})
    for m in d["models"]:
        base[f"score_{m['name']}"] = "" if m["score"] is None else m["score"]
    return base


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        if not rows:
            return
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
