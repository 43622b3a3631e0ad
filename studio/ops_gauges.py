"""Operations gauges read from the database, off the request path: durable queues by status, streams that
stopped sending, and the audit chain's verification. One refresh every STUDIO_OPS_GAUGES_INTERVAL_S (the whole
chain every STUDIO_AUDIT_VERIFY_INTERVAL_S), so Prometheus alert rules (deploy/prometheus/rules) can page on
them and every replica reports the same values."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from sqlalchemy import Engine

from core.settings import Settings
from store.alerts import open_counts
from store.explanations import JOBS
from store.ids import iso, utcnow
from store.jobs import counts_by_status
from store.streams import silent_streams
from store.webhooks import DELIVERIES
from studio import audit_integrity
from studio.metrics import Metrics

log = logging.getLogger(__name__)
STATUSES = ("pending", "leased", "done", "failed")
QUEUES = {"explanations": JOBS, "webhooks": DELIVERIES}
SEEN_WITHIN = timedelta(days=1)
REVIEW_STATUSES = ("pending", "triaging", "awaiting_review", "triaged", "applying")


class OpsGauges:
    def __init__(self, settings: Settings, engine: Engine, metrics: Metrics, profiles: list[str]) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.profiles = profiles
        self._verified = 0.0

    def refresh(self) -> None:
        """Queues and silent streams now; the audit chain when its interval has passed."""
        for queue, table in QUEUES.items():
            counts = counts_by_status(self.engine, table)
            for status in {*STATUSES, *counts}:
                self.metrics.queue_jobs.labels(queue, status).set(counts.get(status, 0))
        open_alerts = open_counts(self.engine)
        for profile in self.profiles:
            for status in REVIEW_STATUSES:
                self.metrics.alerts_open.labels(profile, status).set(open_alerts.get((profile, status), 0))
        now = utcnow()
        silent = silent_streams(self.engine, quiet_since=iso(now - timedelta(seconds=self.settings.stream_silent_s)),
                                seen_since=iso(now - SEEN_WITHIN))
        for profile in {*self.profiles, *silent}:
            self.metrics.streams_silent.labels(profile).set(silent.get(profile, 0))
        interval = self.settings.audit_verify_interval_s
        if interval > 0 and (not self._verified or time.monotonic() - self._verified >= interval):
            self.verify_audit()
        self.metrics.ops_refreshed_at.set(time.time())

    def verify_audit(self) -> None:
        report = audit_integrity.verify(self.settings, self.engine)
        self.metrics.audit_chain_ok.set(1.0 if report["ok"] else 0.0)
        self.metrics.audit_verified_at.set(time.time())
        self._verified = time.monotonic()
        if not report["ok"]:
            log.error("audit verification failed: first broken at %s", report.get("first_broken"))

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # a database hiccup: the gauges keep their values, refreshed_at shows the age
                log.exception("operations gauges refresh failed")
            await asyncio.sleep(interval_s)
