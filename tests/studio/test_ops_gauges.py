"""The operations gauges read the database: the review queue by status, durable queues, silent streams and
the audit verification, for every profile (zeros included, so an alert rule sees a series)."""

from __future__ import annotations

from typing import Any

from core.settings import Settings
from store.engine import init_db, make_engine
from studio.metrics import Metrics
from studio.ops_gauges import OpsGauges
from tests.audit_helpers import append_events


def value(metrics: Metrics, line_start: str) -> float:
    [line] = [ln for ln in metrics.render().decode().splitlines() if ln.startswith(line_start)]
    return float(line.rsplit(" ", 1)[1])


def test_refresh_sets_every_gauge(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    s = Settings(var_dir=tmp_path, database_url=url, env="test")
    engine = make_engine(url)
    init_db(engine)
    append_events(engine, 3)
    m = Metrics()
    OpsGauges(s, engine, m, ["peg", "credit"]).refresh()
    assert value(m, 'studio_alerts_open{profile="peg",review_status="pending"}') == 0.0
    assert value(m, 'studio_queue_jobs{queue="explanations",status="pending"}') == 0.0
    assert value(m, 'studio_streams_silent{profile="credit"}') == 0.0
    assert value(m, "studio_audit_chain_ok ") == 1.0 and value(m, "studio_audit_verified_at_seconds ") > 0
    engine.dispose()
