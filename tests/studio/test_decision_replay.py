"""Decision replay recomputes a past decision exactly with the versions it used (stream profiles with fitted
streams and per-stream calibrators, and tabular ones), and reports what today's versions would say."""

from __future__ import annotations

import asyncio

import pandas as pd

from core.events import Event
from models.datasets import read_timestamps
from studio import PROJECT_ROOT


async def _studio(settings):  # type: ignore[no-untyped-def]
    from studio.bootstrap import build_studio, start

    st = build_studio(settings, train=False)
    await start(st)
    return st


async def test_ops_decisions_replay_exactly_across_warm_up_fit_and_batches(settings) -> None:  # type: ignore[no-untyped-def]
    from studio.bootstrap import stop

    st = await _studio(settings)
    df = pd.read_csv(PROJECT_ROOT / "data/nab/data/realKnownCause/ec2_request_latency_system_failure.csv").head(420)
    ts = read_timestamps(df["timestamp"], "iso")
    evs = [Event(profile="ops", stream="ec2", ts=float(t), value=float(v), features={}, context={"host": "i-1"}, index=i)
           for i, (t, v) in enumerate(zip(ts, df["value"], strict=True))]
    warm = await st.runner.decide(evs[:320])  # past the 300-point warm-up: the stream gets its own fit
    for _ in range(60):
        await asyncio.sleep(0.5)
        st.runtimes["ops"].streams.apply_pending(st.runtimes["ops"].bundle)
        if st.runtimes["ops"].streams.states["ec2"].fit is not None:
            break
    batch = await st.runner.decide(evs[320:400])
    singles = [(await st.runner.decide([e]))[0] for e in evs[400:]]
    assert st.runtimes["ops"].streams.states["ec2"].fit is not None
    for d in (warm[10], warm[-1], batch[0], batch[-1], singles[-1]):
        r = await st.replayer.replay(d["id"])
        assert r["matches_original"], r["original_vs_stored"]
        assert r["original"]["score"] == d["score"] and r["original"]["action"] == d["action"]
        assert r["current"]["versions"] == d["model_versions"]
        # same versions: every model says the same; only the router's choice may differ (exploration)
        assert not [x for x in r["diff"] if x["field"].startswith(("models.", "versions."))]
    await stop(st)


async def test_credit_replay_and_feedback_labels_reach_training(settings, shared_data) -> None:  # type: ignore[no-untyped-def]
    from models.datasets import build_profile_data
    from models.training import feedback_rows
    from studio.bootstrap import stop

    st = await _studio(settings)
    rows = pd.read_csv(shared_data / "credit" / "uci_credit_default.csv").tail(40)
    names = [f.name for f in st.profiles["credit"].fields]
    evs = [Event(profile="credit", stream=None, ts=None, value=None,
                 features={n: float(r[n]) for n in names if pd.notna(r[n])}, context={}, index=i)
           for i, (_, r) in enumerate(rows.iterrows())]
    ds = await st.runner.decide(evs)
    r = await st.replayer.replay(ds[7]["id"])
    assert r["matches_original"] and r["batch_size"] == 40
    for d, y in zip(ds, rows["default.payment.next.month"], strict=True):
        await st.feedback.record(decision_id=d["id"], outcome=float(y), source="review", actor="t")
    extra = feedback_rows(st.profiles["credit"], build_profile_data(st.profiles["credit"], st.settings.data_dir),
                          st.registry)
    assert extra is not None and extra.y.size == 40 and extra.X.shape == (40, len(names))
    assert int(extra.y.sum()) == int(rows["default.payment.next.month"].sum())
    await stop(st)
