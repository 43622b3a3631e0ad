"""Alerts and their review over a real server, on SQLite and on PostgreSQL: the review loop across a restart,
verdicts as labels and router rewards, the alert lifecycle and queue, snooze escalation, the audit trail
(queries, export, a tampered row found by verify), a decision's trail, replay, and per-key rate limits."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from store.audit import canonical, chain_hash
from store.engine import APPEND_ONLY_SQLITE
from tests.api.review_stack import Stack, alert_of, make_stack, peg_stream

CALM = [1.0, 1.0001, 0.9999, 1.0002, 1.0, 1.0001]  # enough points for the stream's models to answer


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, trained_var: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from make_stack(request.param, trained_var, tmp_path_factory)


def test_a_snooze_holds_until_severity_rises(stack: Stack) -> None:
    with stack.client("analyst") as c:
        d = peg_stream(c, "snooze", [*CALM, 0.979])[-1]
    assert d["action"] == "critical" and d["severity"] == 9, "this test needs a severity-9 hard depeg"
    with stack.client("reviewer") as c:
        alert = alert_of(c, d["id"], ("awaiting_review",))
        c.post(f"/v1/alerts/{alert['id']}/acknowledge")
        past = c.post(f"/v1/alerts/{alert['id']}/snooze", json={"until": "2001-01-01T00:00:00Z"})
        assert past.status_code == 422
        until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        s = c.post(f"/v1/alerts/{alert['id']}/snooze", json={"until": until, "reason": "issuer statement at noon"})
        assert s.status_code == 200 and s.json()["snoozed"] and s.json()["snoozed_severity"] == 9
    with stack.client("analyst") as c:
        held = peg_stream(c, "snooze", [0.978], t0=1_678_000_000 + 3600 * (len(CALM) + 1))[0]
        assert held["action"] == "critical" and held["severity"] <= 9
        with stack.client("viewer") as v:
            a = v.get(f"/v1/alerts/{alert['id']}").json()
        assert a["snoozed"] and a["state"] == "acknowledged" and a["decision_count"] == 2 and a["escalations"] == 0
        assert a["decisions"][0]["decision_id"] == held["id"] and a["decisions"][0]["suppressed"] is True
        worse = peg_stream(c, "snooze", [0.7], t0=1_678_000_000 + 3600 * (len(CALM) + 2))[0]
        assert worse["severity"] == 10 and {"test.deep_depeg", "peg.hard_depeg"} <= {r["rule"] for r in worse["rules"]}
    with stack.client("viewer") as v:
        a = v.get(f"/v1/alerts/{alert['id']}").json()
        actions = [e["action"] for e in v.get("/v1/audit", params={"subject_id": alert["id"]}).json()["events"]]
    assert not a["snoozed"] and a["state"] == "open" and a["escalations"] == 1 and a["severity"] == 10
    assert a["decisions"][0]["decision_id"] == worse["id"] and a["decisions"][0]["suppressed"] is False
    assert actions[:4] == ["alert.opened", "review.triaged", "alert.acknowledged", "alert.snoozed"]
    assert actions[4:] == ["alert.joined", "alert.escalated"]


def test_a_critical_alert_waits_for_a_reviewer_across_a_restart(stack: Stack) -> None:
    with stack.client("analyst") as c:
        d = peg_stream(c, "loop", [1.0, 1.0001, 0.9999, 0.979])[-1]
    assert d["action"] == "critical"
    with stack.client("viewer") as c:
        alert = alert_of(c, d["id"], ("awaiting_review",))
    assert alert["rule"] == "peg.hard_depeg" and alert["dedup_key"] == "peg|loop|peg.hard_depeg"
    assert alert["state"] == "open" and alert["review"]["approval_required"] is True
    assert alert["review"]["triage"]["reasons"][0].startswith("critical")
    thread = alert["review"]["thread"]
    assert thread["next"] == ["await_review"] and thread["waiting_for"][0]["alert_id"] == alert["id"]

    stack.server.stop()  # the thread paused at interrupt() lives in the checkpointer
    stack.server.start()
    with stack.client("viewer") as c:
        after = c.get(f"/v1/alerts/{alert['id']}").json()
        assert after["review"]["status"] == "awaiting_review"
        assert after["review"]["thread"]["waiting_for"] == thread["waiting_for"]
        assert c.post(f"/v1/alerts/{alert['id']}/review", json={"verdict": "confirmed"}).status_code == 403
    with stack.client("reviewer") as c:
        r = c.post(f"/v1/alerts/{alert['id']}/review", json={"verdict": "confirmed", "note": "issuer confirmed"})
        assert r.status_code == 200, r.text
        res = r.json()
        assert res["resolution"] == "confirmed" and res["resolved_by"] == stack.keys["reviewer"]["id"]
        assert res["approval_required"] and [x["decision_id"] for x in res["labels"]] == [d["id"]]
        assert res["labels"][0]["arm"] == d["router"]["arm"] and res["outcome"] == 1.0
        again = c.post(f"/v1/alerts/{alert['id']}/review", json={"verdict": "dismissed"})
        assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
        done = c.get(f"/v1/alerts/{alert['id']}").json()
        assert done["state"] == "resolved" and done["review"]["status"] == "done"
        assert done["review"]["thread"]["next"] == [] and done["review"]["thread"]["result"]["verdict"] == "confirmed"
        fb = c.get("/v1/audit", params={"subject_id": d["id"], "action": "feedback.recorded"}).json()["events"]
        assert len(fb) == 1 and fb[0]["payload"]["source"] == "review" and fb[0]["payload"]["outcome"] == 1.0
        assert fb[0]["actor"] == stack.keys["reviewer"]["id"]
        metrics = c.get("/metrics").text
        trail = c.get(f"/v1/decisions/{d['id']}/trail").json()
    assert 'studio_review_verdicts_total{profile="peg",verdict="confirmed"} 1.0' in metrics
    assert 'studio_review_seconds_count{profile="peg"} 1.0' in metrics  # its time to review was observed
    scored = [m["name"] for m in d["models"] if m["score"] is not None]  # a young stream: some models warm up
    assert all(f'studio_review_model_flagged{{model="{m}",profile="peg"}}' in metrics for m in scored)
    precision = [ln for ln in metrics.splitlines() if ln.startswith("studio_review_model_precision{")]
    assert precision and all(ln.endswith(" 1.0") for ln in precision)  # one review, confirmed
    assert [s["step"] for s in trail["steps"]] == ["inputs", "model_versions", "model_outputs", "router", "rules",
                                                    "governor", "decision", "explanation"]
    assert trail["steps"][3]["arm"] == d["router"]["arm"] and trail["steps"][1]["versions"] == d["model_versions"]
    assert [e["action"] for e in trail["events"]] == ["decision.recorded", "alert.opened", "review.triaged",
                                                      "feedback.recorded", "alert.resolved"]
    assert trail["content_sha256_ok"] is True and trail["alerts"] == [alert["id"]]
    log = stack.server.log.read_text()
    assert log.count("Created the first admin API key") == 1 and log.count(stack.server.admin_key or "?") == 1


def test_an_alert_without_approval_is_triaged_then_dismissed(stack: Stack) -> None:
    with stack.client("analyst") as c:
        d = peg_stream(c, "fast", [1.0, 1.0001, 0.989])[-1]
    assert d["action"] == "alert"
    with stack.client("reviewer") as c:
        alert = alert_of(c, d["id"], ("triaged",))
        assert alert["review"]["approval_required"] is False and alert["review"]["thread"]["waiting_for"] is None
        r = c.post(f"/v1/alerts/{alert['id']}/resolve", json={"resolution": "dismissed", "note": "feed glitch"})
        assert r.status_code == 200, r.text
        assert r.json()["resolution"] == "dismissed" and r.json()["labels"][0]["decision_id"] == d["id"]
        fb = c.get("/v1/audit", params={"subject_id": d["id"], "action": "feedback.recorded"}).json()["events"]
    assert fb[0]["payload"]["outcome"] == 0.0 and fb[0]["payload"]["source"] == "review"


def test_alert_lifecycle_and_the_queue(stack: Stack) -> None:
    with stack.client("analyst") as c:
        first = peg_stream(c, "life-a", [1.0, 1.0001, 0.989])[-1]
        second = peg_stream(c, "life-b", [1.0, 1.0001, 0.989])[-1]
    with stack.client("reviewer") as c:
        a, b = alert_of(c, first["id"]), alert_of(c, second["id"])
        ack = c.post(f"/v1/alerts/{a['id']}/acknowledge")
        assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"
        assert ack.json()["acknowledged_by"] == stack.keys["reviewer"]["id"]
        assert c.post(f"/v1/alerts/{a['id']}/acknowledge").status_code == 409
        assert c.post(f"/v1/alerts/{a['id']}/assign", json={"assignee": "maria"}).json()["assignee"] == "maria"
        cm = c.post(f"/v1/alerts/{a['id']}/comments", json={"body": "looking at the order book"})
        assert cm.status_code == 201 and cm.json()["author"] == stack.keys["reviewer"]["id"]
        assert c.get(f"/v1/alerts/{a['id']}").json()["comments"][0]["body"] == "looking at the order book"
        ids = {x["id"] for x in c.get("/v1/alerts", params={"assignee": "maria"}).json()["alerts"]}
        assert ids == {a["id"]}
        assert a["id"] in {x["id"] for x in c.get("/v1/alerts", params={"state": "acknowledged"}).json()["alerts"]}
        assert c.get("/v1/alerts", params={"profile": "credit", "stream": "life-a"}).json()["alerts"] == []
        assert c.get("/v1/alerts", params={"stream": "life-b"}).json()["alerts"][0]["id"] == b["id"]
        assert c.get("/v1/alerts", params={"min_severity": 11}).status_code == 422
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert c.get("/v1/alerts", params={"since": future}).json()["alerts"] == []
        assert c.get("/v1/alerts", params={"until": "2001-01-01T00:00:00Z"}).json()["alerts"] == []
        everything = [x["id"] for x in c.get("/v1/alerts", params={"limit": 200}).json()["alerts"]]
        paged, cursor = [], None
        while True:
            page = c.get("/v1/alerts", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
            paged += [x["id"] for x in page["alerts"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert paged == everything and len(everything) >= 2
        assert c.post(f"/v1/alerts/{b['id']}/resolve", json={"resolution": "duplicate"}).status_code == 422
        dup = c.post(f"/v1/alerts/{b['id']}/resolve", json={"resolution": "duplicate", "duplicate_of": a["id"]})
        assert dup.status_code == 200 and dup.json()["labels"] == [] and dup.json()["resolution"] == "duplicate"
        assert c.get(f"/v1/alerts/{b['id']}").json()["duplicate_of"] == a["id"]
        assert c.post(f"/v1/alerts/{b['id']}/assign", json={"assignee": "x"}).status_code == 409
        assert c.post("/v1/alerts/alr_nope/acknowledge").status_code == 404
        events = c.get("/v1/audit", params={"subject_id": a["id"]}).json()["events"]
    assert [e["action"] for e in events] == ["alert.opened", "review.triaged", "alert.acknowledged", "alert.assigned",
                                             "alert.commented"]
    assert all(e["payload"]["decision_id"] == first["id"] for e in events)


def _tamper(stack: Stack, seq: int, payload: str) -> None:
    """What an attacker with database access could do: lift the append-only guard, edit a row, put it back."""
    sqlite = stack.backend == "sqlite"
    with stack.engine.begin() as conn:
        if sqlite:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_no_update"))
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_append_only"))
        conn.execute(text("UPDATE audit_events SET payload = :p WHERE seq = :s"), {"p": payload, "s": seq})
        if sqlite:
            conn.execute(text(APPEND_ONLY_SQLITE[0]))
        else:
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_append_only"))


def test_audit_queries_export_and_a_tampered_row(stack: Stack) -> None:
    reviewer = stack.keys["reviewer"]["id"]
    with stack.client("analyst") as c:
        d = peg_stream(c, "audit", [1.0, 1.0001, 0.989])[-1]
    with stack.client("reviewer") as c:
        alert = alert_of(c, d["id"])
        for i in range(3):
            c.post(f"/v1/alerts/{alert['id']}/comments", json={"body": f"note {i}"})
    with stack.client("viewer") as c:
        mine = c.get("/v1/audit", params={"actor": reviewer, "action": "alert.*", "subject_type": "alert"}).json()
        assert mine["events"] and all(e["actor"] == reviewer and e["action"].startswith("alert.")
                                      for e in mine["events"])
        pages, cursor = [], None
        while True:
            page = c.get("/v1/audit", params={"action": "alert.*", "limit": 3,
                                              **({"cursor": cursor} if cursor else {})}).json()
            pages += page["events"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        seqs = [e["seq"] for e in pages]
        assert seqs == sorted(set(seqs)) and len(seqs) > 3
        newest = c.get("/v1/audit", params={"action": "alert.*", "order": "desc", "limit": 2}).json()["events"]
        assert [e["seq"] for e in newest] == sorted(seqs, reverse=True)[:2]
        ts = pages[len(pages) // 2]["ts"]
        later = c.get("/v1/audit", params={"action": "alert.*", "since": ts, "limit": 500}).json()["events"]
        assert later and all(e["ts"] >= ts for e in later)
        earlier = c.get("/v1/audit", params={"action": "alert.*", "until": ts, "limit": 500}).json()["events"]
        assert all(e["ts"] < ts for e in earlier) and len(earlier) + len(later) == len(pages)
        lines = c.get("/v1/audit/export", params={"format": "jsonl", "action": "alert.*"}).text.splitlines()
        assert [json.loads(x)["seq"] for x in lines] == seqs
        exported = c.get("/v1/audit/export", params={"format": "csv", "subject_id": alert["id"]})
        assert exported.headers["content-type"].startswith("text/csv")
        assert "attachment" in exported.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert len(rows) >= 5 and all(  # an auditor can re-verify every exported row on its own
            chain_hash(int(r["seq"]), r["ts"], r["actor"], r["action"], r["subject_type"], r["subject_id"],
                       r["payload"], r["prev_hash"]) == r["hash"] for r in rows)
        assert c.get("/v1/audit/verify").json()["ok"]
        target = rows[-1]
        assert target["action"] == "alert.commented"
        forged = canonical({**json.loads(target["payload"]), "chars": 9999})
        _tamper(stack, int(target["seq"]), forged)
        report = c.get("/v1/audit/verify").json()
        assert not report["ok"] and report["first_broken"]["seq"] == int(target["seq"])
        assert "altered" in report["first_broken"]["reason"]
        _tamper(stack, int(target["seq"]), target["payload"])
        assert c.get("/v1/audit/verify").json()["ok"]


def test_replay_reproduces_the_decision_with_its_versions(stack: Stack) -> None:
    with stack.client("analyst") as c:
        d = peg_stream(c, "replay", [1.0, 1.0001, 0.9999, 1.0002, 0.979])[-1]
    with stack.client("viewer") as c:
        r = c.post(f"/v1/decisions/{d['id']}/replay")
        assert r.status_code == 200, r.text
        out = r.json()
        assert c.post("/v1/decisions/dec_nope/replay").status_code == 404
    orig = out["original"]
    assert out["matches_original"] is True and out["decision_id"] == d["id"]
    assert orig["versions"] == d["model_versions"]
    assert abs(orig["score"] - d["score"]) < 1e-9 and orig["action"] == d["action"]
    assert orig["severity"] == d["severity"] and orig["arm"] == d["router"]["arm"]
    stored = {m["name"]: m["score"] for m in d["models"]}
    assert set(orig["models"]) == set(stored)
    assert all((orig["models"][k] is None and stored[k] is None) or abs(orig["models"][k] - stored[k]) < 1e-9
               for k in stored)
    assert out["current"]["versions"] == d["model_versions"] and not [x for x in out["diff"]
                                                                       if x["field"].startswith("versions.")]


def test_per_key_rate_limits_answer_429_with_retry_after(stack: Stack) -> None:
    with stack.client() as c:
        slow = c.post("/v1/keys", json={"role": "viewer", "name": "slow", "rate_per_s": 0.5, "burst": 2}).json()
    with stack.server.client(key=slow["key"]) as c:
        codes = [c.get("/v1/keys/me").status_code for _ in range(2)]
        r = c.get("/v1/keys/me")
    assert codes == [200, 200] and r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["details"]["retry_after_s"] > 0
    with stack.client("viewer") as c:  # another key has its own bucket
        assert c.get("/v1/keys/me").status_code == 200
    if stack.backend == "sqlite":
        return
    if not stack.redis_url:
        pytest.skip("Redis rate limits need STUDIO_TEST_REDIS_URL (set by .ci/run)")
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    try:  # the bucket lives in Redis, where every replica shares it
        bucket = client.hgetall(f"studio:rl:key:{slow['id']}")
        assert float(bucket[b"tokens"]) < 1.0 and client.pttl(f"studio:rl:key:{slow['id']}") > 0
        time.sleep(2.1)  # 0.5 token per second: one request's worth comes back
        with stack.server.client(key=slow["key"]) as c:
            assert c.get("/v1/keys/me").status_code == 200
    finally:
        client.close()
